package io.sluice.kcl;

import java.io.FileWriter;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.cloudwatch.CloudWatchAsyncClient;
import software.amazon.awssdk.services.dynamodb.DynamoDbAsyncClient;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.kinesis.common.ConfigsBuilder;
import software.amazon.kinesis.common.InitialPositionInStream;
import software.amazon.kinesis.common.InitialPositionInStreamExtended;
import software.amazon.kinesis.common.KinesisClientUtil;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.leases.LeaseManagementConfig;
import software.amazon.kinesis.lifecycle.events.InitializationInput;
import software.amazon.kinesis.lifecycle.events.LeaseLostInput;
import software.amazon.kinesis.lifecycle.events.ProcessRecordsInput;
import software.amazon.kinesis.lifecycle.events.ShardEndedInput;
import software.amazon.kinesis.lifecycle.events.ShutdownRequestedInput;
import software.amazon.kinesis.processor.ShardRecordProcessor;
import software.amazon.kinesis.retrieval.KinesisClientRecord;
import software.amazon.kinesis.retrieval.RetrievalConfig;
import software.amazon.kinesis.retrieval.polling.PollingConfig;

/**
 * A KCL 3 application set up as its documentation shows, with Sluice as the only endpoint
 * (Kinesis, DynamoDB for the leases, CloudWatch for the metrics, default metric settings).
 * Every record it processes is written to the output file as "shardId sequence subsequence
 * data", flushed before the batch is checkpointed; when `expect` distinct data values have
 * been seen it shuts down gracefully and prints PASS.
 *
 * Arguments: endpoint stream application polling|fanout expect timeoutSeconds outFile workerId
 * [countPrefix: only data starting with it counts towards expect]
 * TLS: pass -Djavax.net.ssl.trustStore=... for the endpoint's certificate; the SDK's default
 * Netty client (HTTP/2, as KCL builds it) is used unchanged. -Dkcl.leaseCountBased=true
 * balances leases by count instead of by worker CPU.
 */
public final class Consume {
    public static void main(String[] args) throws Exception {
        URI endpoint = URI.create(args[0]);
        String stream = args[1], app = args[2], mode = args[3];
        int expect = Integer.parseInt(args[4]);
        long timeoutSec = Long.parseLong(args[5]);
        String outFile = args[6], worker = args[7];
        String countPrefix = args.length > 8 ? args[8] : "";

        StaticCredentialsProvider creds = StaticCredentialsProvider.create(AwsBasicCredentials.create("AKIAIOSFODNN7EXAMPLE", "secret"));
        Region region = Region.US_EAST_1;
        KinesisAsyncClient kinesis = KinesisClientUtil.createKinesisAsyncClient(
                KinesisAsyncClient.builder().endpointOverride(endpoint).region(region).credentialsProvider(creds));
        DynamoDbAsyncClient dynamo = DynamoDbAsyncClient.builder().endpointOverride(endpoint).region(region).credentialsProvider(creds).build();
        CloudWatchAsyncClient cloudWatch = CloudWatchAsyncClient.builder().endpointOverride(endpoint).region(region).credentialsProvider(creds).build();

        Set<String> seen = ConcurrentHashMap.newKeySet();
        PrintWriter out = new PrintWriter(new FileWriter(outFile, true));
        ConfigsBuilder cb = new ConfigsBuilder(stream, app, kinesis, dynamo, cloudWatch, worker, () -> new Processor(out, seen, countPrefix));
        RetrievalConfig retrieval = cb.retrievalConfig().initialPositionInStreamExtended(
                InitialPositionInStreamExtended.newInitialPosition(InitialPositionInStream.TRIM_HORIZON));
        if (mode.equals("polling")) {
            retrieval.retrievalSpecificConfig(new PollingConfig(stream, kinesis).idleTimeBetweenReadsInMillis(500));
        }
        LeaseManagementConfig leases = cb.leaseManagementConfig().failoverTimeMillis(5000).shardSyncIntervalMillis(5000);
        if (Boolean.getBoolean("kcl.leaseCountBased")) {
            // KCL 3's default balances by worker CPU, which is one figure for workers on one
            // host: a worker that joins late may then never get a lease. Counting leases is
            // KCL's documented alternative.
            // by reflection: the same source is built against KCL 2.x, which has no strategies
            Class<?> strategy = Class.forName("software.amazon.kinesis.leases.LeaseAssignmentStrategy");
            Object countBased = strategy.getField("LEASE_COUNT_BASED").get(null);
            LeaseManagementConfig.class.getMethod("leaseAssignmentStrategy", strategy).invoke(leases, countBased);
        }
        Scheduler scheduler = new Scheduler(cb.checkpointConfig(),
                cb.coordinatorConfig(),
                leases,
                cb.lifecycleConfig(), cb.metricsConfig(), cb.processorConfig(), retrieval);
        Thread t = new Thread(scheduler);
        t.setDaemon(true);
        t.start();

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSec);
        while (seen.size() < expect && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        boolean done = seen.size() >= expect;
        System.out.println("seen " + seen.size() + " of " + expect);
        scheduler.startGracefulShutdown().get(60, TimeUnit.SECONDS);
        out.flush();
        System.out.println(done ? "PASS" : "FAIL: timed out");
        System.exit(done ? 0 : 1);
    }

    static final class Processor implements ShardRecordProcessor {
        private final PrintWriter out;
        private final Set<String> seen;
        private final String countPrefix;
        private String shard;

        Processor(PrintWriter out, Set<String> seen, String countPrefix) {
            this.out = out;
            this.seen = seen;
            this.countPrefix = countPrefix;
        }

        @Override
        public void initialize(InitializationInput in) {
            shard = in.shardId();
            System.out.println("initialize " + shard + " at " + in.extendedSequenceNumber());
        }

        @Override
        public void processRecords(ProcessRecordsInput in) {
            StringBuilder b = new StringBuilder();
            for (KinesisClientRecord r : in.records()) {
                ByteBuffer d = r.data();
                byte[] bytes = new byte[d.remaining()];
                d.get(bytes);
                String data = new String(bytes, StandardCharsets.UTF_8);
                b.append(shard).append(' ').append(r.sequenceNumber()).append(' ').append(r.subSequenceNumber()).append(' ').append(data).append('\n');
                if (data.startsWith(countPrefix)) {
                    seen.add(data);
                }
            }
            synchronized (out) {
                out.print(b);
                out.flush();
            }
            try {
                if (!in.records().isEmpty()) {
                    in.checkpointer().checkpoint();
                }
            } catch (Exception e) {
                System.out.println("checkpoint " + shard + ": " + e);
            }
        }

        @Override
        public void leaseLost(LeaseLostInput in) {
            System.out.println("lease lost " + shard);
        }

        @Override
        public void shardEnded(ShardEndedInput in) {
            System.out.println("shard end " + shard);
            try {
                in.checkpointer().checkpoint();
            } catch (Exception e) {
                System.out.println("checkpoint at shard end " + shard + ": " + e);
            }
        }

        @Override
        public void shutdownRequested(ShutdownRequestedInput in) {
            try {
                in.checkpointer().checkpoint();
            } catch (Exception e) {
                System.out.println("checkpoint at shutdown " + shard + ": " + e);
            }
        }
    }
}
