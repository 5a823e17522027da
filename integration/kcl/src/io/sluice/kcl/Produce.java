package io.sluice.kcl;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.google.common.util.concurrent.ListenableFuture;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.kinesis.producer.KinesisProducer;
import software.amazon.kinesis.producer.KinesisProducerConfiguration;
import software.amazon.kinesis.producer.UserRecordResult;

/**
 * The KPL with its defaults (aggregation on, metrics on and uploaded to CloudWatch) and
 * Sluice as its only endpoint: puts `count` records "<prefix>-<i>" with varied partition
 * keys, waits for every future, and prints PASS when all succeeded.
 *
 * Arguments: host port stream count prefix. The KPL speaks TLS only; certificate
 * verification is off (the test's certificate is self-signed).
 */
public final class Produce {
    public static void main(String[] args) throws Exception {
        String host = args[0], stream = args[2], prefix = args[4];
        long port = Long.parseLong(args[1]);
        int count = Integer.parseInt(args[3]);
        KinesisProducerConfiguration cfg = new KinesisProducerConfiguration()
                .setRegion("us-east-1")
                .setKinesisEndpoint(host).setKinesisPort(port)
                .setCloudwatchEndpoint(host).setCloudwatchPort(port)
                .setStsEndpoint(host)
                .setVerifyCertificate(false)
                .setMetricsUploadDelay(1000)
                .setRecordMaxBufferedTime(200)
                .setLogLevel("warning")
                .setCredentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIAIOSFODNN7EXAMPLE", "secret")));
        KinesisProducer kpl = new KinesisProducer(cfg);
        List<ListenableFuture<UserRecordResult>> futures = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            ByteBuffer data = ByteBuffer.wrap((prefix + "-" + i).getBytes(StandardCharsets.UTF_8));
            futures.add(kpl.addUserRecord(stream, "key-" + (i % 97), data));
        }
        int failed = 0;
        for (ListenableFuture<UserRecordResult> f : futures) {
            UserRecordResult r = f.get(3, TimeUnit.MINUTES);
            if (!r.isSuccessful()) {
                failed++;
            }
        }
        kpl.flushSync();
        // let one metrics upload happen before the process ends
        Thread.sleep(2500);
        kpl.destroy();
        System.out.println("put " + count + ", failed " + failed);
        System.out.println(failed == 0 ? "PASS" : "FAIL");
        System.exit(failed == 0 ? 0 : 1);
    }
}
