package io.sluice.check;

import java.math.BigInteger;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.interceptor.Context;
import software.amazon.awssdk.core.interceptor.ExecutionAttributes;
import software.amazon.awssdk.core.interceptor.ExecutionInterceptor;
import software.amazon.awssdk.core.interceptor.SdkExecutionAttribute;
import software.amazon.awssdk.http.Protocol;
import software.amazon.awssdk.http.SdkHttpResponse;
import software.amazon.awssdk.http.nio.netty.Http2Configuration;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisAsyncClient;
import software.amazon.awssdk.services.kinesis.model.ChildShard;
import software.amazon.awssdk.services.kinesis.model.ConsumerDescription;
import software.amazon.awssdk.services.kinesis.model.ConsumerStatus;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.KinesisException;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ResourceInUseException;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;
import software.amazon.awssdk.services.kinesis.model.Shard;
import software.amazon.awssdk.services.kinesis.model.ShardFilterType;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;
import software.amazon.awssdk.services.kinesis.model.StartingPosition;
import software.amazon.awssdk.services.kinesis.model.StreamDescriptionSummary;
import software.amazon.awssdk.services.kinesis.model.StreamStatus;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardEvent;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardEventStream;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardResponse;
import software.amazon.awssdk.services.kinesis.model.SubscribeToShardResponseHandler;

/**
 * Drives a Sluice endpoint with the AWS SDK for Java v2 configured the way the Kinesis
 * Client Library configures it (Netty, HTTP/2 over cleartext with prior knowledge, CBOR
 * unless -Daws.cborEnabled=false), and checks every answer. Prints one "ok" line per step;
 * on the first mismatch prints "FAIL ..." and exits 1.
 *
 * Usage: SluiceCheck ENDPOINT STREAM_NAME
 */
public final class SluiceCheck {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final long CLOCK_SLACK_MS = 60_000;
    /** Errors this program provokes on purpose. */
    private static final Set<String> EXPECTED_ERRORS = Set.of(
            "DescribeStreamSummary -> HTTP 400 ResourceNotFoundException",
            "SubscribeToShard -> HTTP 400 ResourceNotFoundException",
            "SubscribeToShard -> HTTP 400 ResourceInUseException");

    private final KinesisAsyncClient kinesis;
    private final URI endpoint;
    private final StaticCredentialsProvider credentials = StaticCredentialsProvider.create(
            AwsBasicCredentials.create("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
    private final String stream;
    private final List<String> httpErrors = new CopyOnWriteArrayList<>();
    private final Set<String> contentTypes = ConcurrentHashMap.newKeySet();
    private final String expectedContentType;
    private final Random rnd = new Random(42);

    /** Records this program wrote, by partition key. */
    private final Map<String, Written> written = new ConcurrentHashMap<>();

    private record Written(String key, byte[] data, String shardId, String seq) {}

    private SluiceCheck(String endpoint, String stream) {
        this.stream = stream;
        this.expectedContentType = cborEnabled() ? "application/x-amz-cbor-1.1" : "application/x-amz-json-1.1";
        NettyNioAsyncHttpClient.Builder http = NettyNioAsyncHttpClient.builder()
                .protocol(Protocol.HTTP2)
                .maxConcurrency(Integer.MAX_VALUE)
                .http2Configuration(Http2Configuration.builder()
                        .initialWindowSize(512 * 1024)
                        .healthCheckPingPeriod(Duration.ofSeconds(10))
                        .build());
        this.endpoint = URI.create(endpoint);
        this.kinesis = KinesisAsyncClient.builder()
                .endpointOverride(this.endpoint)
                .region(Region.US_EAST_1)
                .credentialsProvider(credentials)
                .httpClientBuilder(http)
                .overrideConfiguration(o -> o.addExecutionInterceptor(new StatusRecorder()))
                .build();
    }

    /** Remembers every non-200 HTTP answer so that retried failures cannot hide. */
    private final class StatusRecorder implements ExecutionInterceptor {
        @Override
        public void beforeTransmission(Context.BeforeTransmission ctx, ExecutionAttributes attrs) {
            String op = attrs.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
            String ct = ctx.httpRequest().firstMatchingHeader("Content-Type").orElse("(none)");
            contentTypes.add(op + " " + ct);
        }

        @Override
        public void afterTransmission(Context.AfterTransmission ctx, ExecutionAttributes attrs) {
            SdkHttpResponse r = ctx.httpResponse();
            if (r.statusCode() != 200) {
                String op = attrs.getAttribute(SdkExecutionAttribute.OPERATION_NAME);
                String type = r.firstMatchingHeader("x-amzn-ErrorType").orElse("?");
                httpErrors.add(op + " -> HTTP " + r.statusCode() + " " + type);
            }
        }
    }

    public static void main(String[] args) {
        if (args.length < 2 || args.length > 3 || (args.length == 3 && !args[2].equals("sigv4"))) {
            System.err.println("usage: SluiceCheck ENDPOINT STREAM_NAME [sigv4]");
            System.exit(2);
        }
        String codec = cborEnabled() ? "cbor" : "json";
        System.out.println("codec " + codec + ", java " + System.getProperty("java.version"));
        SluiceCheck c = new SluiceCheck(args[0], args[1]);
        int code = 0;
        try {
            if (args.length == 3) {
                c.wrongSecret();
            }
            c.run();
            System.out.println("PASS");
        } catch (Throwable t) {
            Throwable cause = unwrap(t);
            System.out.println("FAIL " + cause);
            cause.printStackTrace(System.out);
            code = 1;
        } finally {
            c.kinesis.close();
        }
        System.exit(code);
    }

    /** With signature checks on, a client holding the wrong secret is refused. */
    private void wrongSecret() {
        try (KinesisAsyncClient bad = KinesisAsyncClient.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(credentials.resolveCredentials().accessKeyId(), "not-the-secret")))
                .httpClientBuilder(NettyNioAsyncHttpClient.builder().protocol(Protocol.HTTP2))
                .build()) {
            bad.listStreams().join();
            fail("ListStreams signed with the wrong secret succeeded");
        } catch (CompletionException e) {
            Throwable t = unwrap(e);
            check(t instanceof KinesisException, "wrong secret raised " + t);
            KinesisException k = (KinesisException) t;
            check("InvalidSignatureException".equals(k.awsErrorDetails().errorCode()), "wrong secret -> "
                    + k.awsErrorDetails().errorCode() + ": " + k.awsErrorDetails().errorMessage());
            ok("wrong secret -> " + k.statusCode() + " InvalidSignatureException: " + k.awsErrorDetails().errorMessage());
        }
    }

    private void run() throws Exception {
        String arn = createStream();
        missingStream();
        List<Shard> shards = listShards(arn);
        putRecords();
        readBack(shards);
        String consumerArn = subscribe(arn, shards);
        split(arn, shards, consumerArn);
        kinesis.deregisterStreamConsumer(r -> r.consumerARN(consumerArn)).join();
        ok("DeregisterStreamConsumer");
        kinesis.deleteStream(r -> r.streamName(stream).enforceConsumerDeletion(true)).join();
        ok("DeleteStream");
        bigRecords();
        List<String> unexpected = new ArrayList<>();
        int throttled = 0;
        for (String e : httpErrors) {
            if (e.endsWith(" 400 ProvisionedThroughputExceededException") || e.endsWith(" 400 LimitExceededException")) {
                throttled++; // quotas are Kinesis behaviour; the SDK retries them
            } else if (!EXPECTED_ERRORS.contains(e)) {
                unexpected.add(e);
            }
        }
        check(unexpected.isEmpty(), "unexpected HTTP errors (hidden by SDK retries?): " + unexpected);
        for (String opType : contentTypes) {
            // SDK v2 sends SubscribeToShard (an event-stream operation) as JSON even with CBOR on.
            boolean fine = opType.endsWith(" " + expectedContentType)
                    || opType.equals("SubscribeToShard application/x-amz-json-1.1");
            check(fine, "request Content-Types " + contentTypes + ", want " + expectedContentType);
        }
        ok("requests were " + new java.util.TreeSet<>(contentTypes) + "; " + throttled + " throttled calls retried; errors "
                + httpErrors);
    }

    // ---- streams and shards ----

    private String createStream() throws Exception {
        kinesis.createStream(r -> r.streamName(stream).shardCount(2)).join();
        ok("CreateStream " + stream + " with 2 shards");
        StreamDescriptionSummary s = waitActive();
        check(s.openShardCount() == 2, "OpenShardCount = " + s.openShardCount());
        check(s.streamARN().endsWith(":stream/" + stream), "StreamARN " + s.streamARN());
        check(s.retentionPeriodHours() == 24, "RetentionPeriodHours = " + s.retentionPeriodHours());
        near(s.streamCreationTimestamp(), "StreamCreationTimestamp");
        ok("DescribeStreamSummary ACTIVE, arn " + s.streamARN() + ", created " + s.streamCreationTimestamp());
        StreamDescriptionSummary byArn = kinesis.describeStreamSummary(r -> r.streamARN(s.streamARN())).join()
                .streamDescriptionSummary();
        check(byArn.streamName().equals(stream), "DescribeStreamSummary by ARN names " + byArn.streamName());
        check(byArn.streamCreationTimestamp().equals(s.streamCreationTimestamp()), "StreamCreationTimestamp changed: "
                + byArn.streamCreationTimestamp() + " != " + s.streamCreationTimestamp());
        ok("DescribeStreamSummary by StreamARN, same StreamCreationTimestamp");
        return s.streamARN();
    }

    private StreamDescriptionSummary waitActive() throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            StreamDescriptionSummary s = kinesis.describeStreamSummary(r -> r.streamName(stream)).join()
                    .streamDescriptionSummary();
            if (s.streamStatus() == StreamStatus.ACTIVE) {
                return s;
            }
            check(System.nanoTime() < deadline, "stream still " + s.streamStatus() + " after " + WAIT);
            Thread.sleep(100);
        }
    }

    private void missingStream() {
        try {
            kinesis.describeStreamSummary(r -> r.streamName(stream + "-missing")).join();
            fail("DescribeStreamSummary of a missing stream succeeded");
        } catch (CompletionException e) {
            Throwable t = e.getCause();
            check(t instanceof ResourceNotFoundException, "missing stream raised " + t);
            KinesisException k = (KinesisException) t;
            check(k.statusCode() == 400, "status " + k.statusCode());
            String msg = k.awsErrorDetails().errorMessage();
            check(msg != null && msg.contains(stream + "-missing"), "error message " + msg);
            ok("missing stream -> ResourceNotFoundException: " + msg);
        }
    }

    private List<Shard> listShards(String arn) {
        ListShardsResponse latest = kinesis.listShards(r -> r.streamARN(arn)
                .shardFilter(f -> f.type(ShardFilterType.AT_LATEST))).join();
        check(latest.shards().size() == 2, "AT_LATEST shards " + latest.shards());
        List<Shard> shards = latest.shards();
        BigInteger max = BigInteger.TWO.pow(128).subtract(BigInteger.ONE);
        check(new BigInteger(shards.get(0).hashKeyRange().startingHashKey()).signum() == 0, "first shard start");
        check(new BigInteger(shards.get(0).hashKeyRange().endingHashKey()).add(BigInteger.ONE)
                .equals(new BigInteger(shards.get(1).hashKeyRange().startingHashKey())), "shards do not tile");
        check(new BigInteger(shards.get(1).hashKeyRange().endingHashKey()).equals(max), "last shard end");
        for (Shard s : shards) {
            check(s.sequenceNumberRange().startingSequenceNumber() != null, "no StartingSequenceNumber");
            check(s.sequenceNumberRange().endingSequenceNumber() == null, "open shard has EndingSequenceNumber");
        }
        ok("ListShards AT_LATEST by ARN: " + ids(shards));

        // Paging one shard at a time: NextToken alone, as the SDK paginator sends it.
        List<Shard> paged = new ArrayList<>();
        ListShardsResponse page = kinesis.listShards(r -> r.streamName(stream).maxResults(1)).join();
        paged.addAll(page.shards());
        int pages = 1;
        while (page.nextToken() != null) {
            String token = page.nextToken();
            page = kinesis.listShards(r -> r.nextToken(token).maxResults(1)).join();
            paged.addAll(page.shards());
            check(++pages <= 10, "ListShards paging does not end");
        }
        check(ids(paged).equals(ids(shards)), "paged ListShards " + ids(paged));
        ok("ListShards paged by NextToken in " + pages + " pages");
        return shards;
    }

    // ---- writes and GetRecords ----

    private void putRecords() {
        List<PutRecordsRequestEntry> entries = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            byte[] data = randomBytes(i == 7 ? 100_000 : 1 + rnd.nextInt(600));
            String key = "pk-" + i + "-" + Integer.toHexString(rnd.nextInt());
            entries.add(PutRecordsRequestEntry.builder().partitionKey(key).data(SdkBytes.fromByteArray(data)).build());
        }
        PutRecordsResponse res = kinesis.putRecords(r -> r.streamName(stream).records(entries)).join();
        check(res.failedRecordCount() == 0, "FailedRecordCount " + res.failedRecordCount());
        check(res.records().size() == 50, "PutRecords results " + res.records().size());
        Set<String> shardsHit = new HashSet<>();
        for (int i = 0; i < 50; i++) {
            PutRecordsResultEntry e = res.records().get(i);
            check(e.errorCode() == null, "entry " + i + " error " + e.errorCode());
            checkSeq(e.sequenceNumber());
            PutRecordsRequestEntry in = entries.get(i);
            written.put(in.partitionKey(), new Written(in.partitionKey(), in.data().asByteArray(), e.shardId(), e.sequenceNumber()));
            shardsHit.add(e.shardId());
        }
        check(shardsHit.size() == 2, "50 random keys landed on " + shardsHit);
        ok("PutRecords 50 records (one of 100000 bytes) on " + shardsHit);

        try {
            Thread.sleep(30); // a strictly later arrival for the AT_TIMESTAMP check
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        byte[] data = "héllo sluice \u0000\u00ff".getBytes(StandardCharsets.UTF_8);
        PutRecordResponse one = kinesis.putRecord(r -> r.streamName(stream).partitionKey("single")
                .data(SdkBytes.fromByteArray(data))).join();
        checkSeq(one.sequenceNumber());
        written.put("single", new Written("single", data, one.shardId(), one.sequenceNumber()));
        ok("PutRecord -> " + one.shardId() + " " + one.sequenceNumber());
    }

    private void readBack(List<Shard> shards) throws Exception {
        Map<String, Record> seen = new HashMap<>();
        Map<String, List<Record>> byShard = new HashMap<>();
        for (Shard s : shards) {
            List<Record> ordered = new ArrayList<>();
            byShard.put(s.shardId(), ordered);
            String it = kinesis.getShardIterator(r -> r.streamName(stream).shardId(s.shardId())
                    .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).join().shardIterator();
            BigInteger last = BigInteger.valueOf(-1);
            long deadline = System.nanoTime() + WAIT.toNanos();
            int expected = (int) written.values().stream().filter(w -> w.shardId().equals(s.shardId())).count();
            int got = 0;
            while (got < expected) {
                String iter = it;
                GetRecordsResponse res = kinesis.getRecords(r -> r.shardIterator(iter).limit(20)).join();
                check(res.nextShardIterator() != null, "open shard returned no NextShardIterator");
                check(!res.hasChildShards() || res.childShards().isEmpty(), "open shard returned ChildShards");
                check(res.millisBehindLatest() != null, "no MillisBehindLatest");
                for (Record rec : res.records()) {
                    BigInteger seq = checkSeq(rec.sequenceNumber());
                    check(seq.compareTo(last) > 0, "sequence numbers not increasing in " + s.shardId());
                    last = seq;
                    checkRecord(rec, s.shardId());
                    seen.put(rec.partitionKey(), rec);
                    ordered.add(rec);
                    got++;
                }
                it = res.nextShardIterator();
                check(System.nanoTime() < deadline, "read " + got + " of " + expected + " in " + s.shardId());
                if (res.records().isEmpty()) {
                    Thread.sleep(250);
                }
            }
            check(got == expected, s.shardId() + ": read " + got + ", wrote " + expected);
        }
        check(seen.keySet().equals(written.keySet()), "GetRecords keys differ from written keys");
        ok("GetRecords TRIM_HORIZON read all " + seen.size()
                + " records back (data, keys, sequence numbers, arrival timestamps)");

        // Positioned iterators, as KCL uses them for checkpoints and AT_TIMESTAMP starts.
        String shardId = written.get("single").shardId();
        List<Record> ordered = byShard.get(shardId);
        check(ordered.size() >= 3, shardId + " holds only " + ordered.size() + " records");
        Record mid = ordered.get(ordered.size() / 2);
        Record next = ordered.get(ordered.size() / 2 + 1);
        Record at = firstAt(shardId, ShardIteratorType.AT_SEQUENCE_NUMBER, mid.sequenceNumber(), null);
        check(at != null && at.sequenceNumber().equals(mid.sequenceNumber()), "AT_SEQUENCE_NUMBER returned " + at);
        Record after = firstAt(shardId, ShardIteratorType.AFTER_SEQUENCE_NUMBER, mid.sequenceNumber(), null);
        check(after != null && after.sequenceNumber().equals(next.sequenceNumber()), "AFTER_SEQUENCE_NUMBER returned " + after);
        Record single = seen.get("single");
        Instant ts = single.approximateArrivalTimestamp();
        for (Instant t : List.of(ts, ts.minusMillis(10))) {
            Record first = firstAt(shardId, ShardIteratorType.AT_TIMESTAMP, null, t);
            check(first != null && first.partitionKey().equals("single"), "AT_TIMESTAMP " + t + " returned "
                    + (first == null ? "nothing" : first.partitionKey() + " arrived " + first.approximateArrivalTimestamp()));
        }
        ok("GetShardIterator AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER and AT_TIMESTAMP " + ts + " start at the right record");
    }

    /** The first record GetRecords returns from a positioned iterator, or null if none. */
    private Record firstAt(String shardId, ShardIteratorType type, String seq, Instant ts) {
        String it = kinesis.getShardIterator(r -> r.streamName(stream).shardId(shardId).shardIteratorType(type)
                .startingSequenceNumber(seq).timestamp(ts)).join().shardIterator();
        GetRecordsResponse res = kinesis.getRecords(r -> r.shardIterator(it).limit(1)).join();
        return res.records().isEmpty() ? null : res.records().get(0);
    }

    private void checkRecord(Record rec, String shardId) {
        Written w = written.get(rec.partitionKey());
        check(w != null, "unknown partition key " + rec.partitionKey());
        check(w.shardId().equals(shardId), rec.partitionKey() + " written to " + w.shardId() + ", read from " + shardId);
        check(w.seq().equals(rec.sequenceNumber()), rec.partitionKey() + " sequence " + rec.sequenceNumber() + " != " + w.seq());
        check(Arrays.equals(w.data(), rec.data().asByteArray()), rec.partitionKey() + " data differs ("
                + rec.data().asByteArray().length + " bytes read, " + w.data().length + " written)");
        near(rec.approximateArrivalTimestamp(), "ApproximateArrivalTimestamp of " + rec.partitionKey());
    }

    /** Maximum-size records: big CBOR byte strings and a multi-MiB GetRecords answer through HTTP/2 flow control. */
    private void bigRecords() throws Exception {
        String big = stream + "-big";
        kinesis.createStream(r -> r.streamName(big).shardCount(1)).join();
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (kinesis.describeStreamSummary(r -> r.streamName(big)).join().streamDescriptionSummary().streamStatus()
                != StreamStatus.ACTIVE) {
            check(System.nanoTime() < deadline, big + " not ACTIVE");
            Thread.sleep(100);
        }
        List<byte[]> datas = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String key = "big-" + i;
            // Data + key = 1 MiB, the shard's write tank. (Exactly 1 MiB of Data plus a key is
            // valid but never fits Sluice's tank today: see the report of this check.)
            byte[] data = randomBytes(1024 * 1024 - key.length());
            datas.add(data);
            long until = System.nanoTime() + WAIT.toNanos();
            while (true) { // a full 1 MiB record needs a full write tank: retry throttling past the SDK's own retries
                try {
                    kinesis.putRecord(r -> r.streamName(big).partitionKey(key).data(SdkBytes.fromByteArray(data))).join();
                    break;
                } catch (CompletionException e) {
                    check(unwrap(e) instanceof software.amazon.awssdk.services.kinesis.model.ProvisionedThroughputExceededException
                            && System.nanoTime() < until, "PutRecord of 1 MiB: " + unwrap(e));
                    Thread.sleep(500);
                }
            }
        }
        String shard = kinesis.listShards(r -> r.streamName(big)).join().shards().get(0).shardId();
        String it = kinesis.getShardIterator(r -> r.streamName(big).shardId(shard)
                .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).join().shardIterator();
        GetRecordsResponse res = kinesis.getRecords(r -> r.shardIterator(it)).join();
        check(res.records().size() == 3, "one GetRecords returned " + res.records().size() + " of 3 big records");
        for (int i = 0; i < 3; i++) {
            Record rec = res.records().get(i);
            check(rec.partitionKey().equals("big-" + i), "big record " + i + " key " + rec.partitionKey());
            check(Arrays.equals(datas.get(i), rec.data().asByteArray()), "big record " + i + " data differs");
            near(rec.approximateArrivalTimestamp(), "big record arrival");
        }
        http1(big, shard, res.records().get(2));
        kinesis.deleteStream(r -> r.streamName(big)).join();
        ok("3 records of 1 MiB (Data + key) via PutRecord, read back byte-exact by one GetRecords (3 MiB answer)");
    }

    /** The synchronous client on the Apache HTTP/1.1 client, as plain Java producers use it. */
    private void http1(String big, String shard, Record last) {
        try (software.amazon.awssdk.services.kinesis.KinesisClient sync = software.amazon.awssdk.services.kinesis.KinesisClient.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .credentialsProvider(credentials)
                .httpClientBuilder(software.amazon.awssdk.http.apache.ApacheHttpClient.builder())
                .overrideConfiguration(o -> o.addExecutionInterceptor(new StatusRecorder()))
                .build()) {
            byte[] data = randomBytes(1000);
            PutRecordResponse put = sync.putRecord(r -> r.streamName(big).partitionKey("http1").data(SdkBytes.fromByteArray(data)));
            String it = sync.getShardIterator(r -> r.streamName(big).shardId(shard)
                    .shardIteratorType(ShardIteratorType.AFTER_SEQUENCE_NUMBER).startingSequenceNumber(last.sequenceNumber()))
                    .shardIterator();
            GetRecordsResponse res = sync.getRecords(r -> r.shardIterator(it));
            check(res.records().size() == 1, "HTTP/1.1 GetRecords returned " + res.records().size() + " records");
            Record rec = res.records().get(0);
            check(rec.sequenceNumber().equals(put.sequenceNumber()) && rec.partitionKey().equals("http1")
                    && Arrays.equals(rec.data().asByteArray(), data), "HTTP/1.1 read back " + rec);
            near(rec.approximateArrivalTimestamp(), "HTTP/1.1 ApproximateArrivalTimestamp");
            try {
                sync.describeStreamSummary(r -> r.streamName(stream + "-missing"));
                fail("HTTP/1.1 DescribeStreamSummary of a missing stream succeeded");
            } catch (ResourceNotFoundException e) {
                check(e.awsErrorDetails().errorMessage().contains(stream + "-missing"), "message " + e.getMessage());
            }
        }
        ok("sync client over Apache HTTP/1.1: PutRecord, AFTER_SEQUENCE_NUMBER GetRecords, ResourceNotFoundException");
    }

    // ---- enhanced fan-out ----

    private String subscribe(String arn, List<Shard> shards) throws Exception {
        var reg = kinesis.registerStreamConsumer(r -> r.streamARN(arn).consumerName("java-check")).join().consumer();
        check(reg != null && "java-check".equals(reg.consumerName()), "RegisterStreamConsumer returned " + reg);
        check(reg.consumerARN() != null && reg.consumerARN().startsWith(arn + "/consumer/java-check:"),
                "ConsumerARN " + reg.consumerARN());
        near(reg.consumerCreationTimestamp(), "ConsumerCreationTimestamp");
        String consumerArn = waitConsumerActive(arn);
        ok("RegisterStreamConsumer + DescribeStreamConsumer ACTIVE: " + consumerArn);
        try {
            kinesis.subscribeToShard(r -> r.consumerARN(arn + "/consumer/nobody:1").shardId(shards.get(0).shardId())
                    .startingPosition(p -> p.type(ShardIteratorType.LATEST)),
                    SubscribeToShardResponseHandler.builder().subscriber(e -> { }).build()).get(30, TimeUnit.SECONDS);
            fail("SubscribeToShard with an unknown consumer succeeded");
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable t = unwrap(e);
            check(t instanceof ResourceNotFoundException, "SubscribeToShard with an unknown consumer raised " + t);
            ok("SubscribeToShard with an unknown consumer -> ResourceNotFoundException: "
                    + ((KinesisException) t).awsErrorDetails().errorMessage());
        }

        Map<String, Record> seen = new ConcurrentHashMap<>();
        Map<String, String> shardOf = new ConcurrentHashMap<>();
        List<Sub> subs = new ArrayList<>();
        for (Shard s : shards) {
            subs.add(new Sub(consumerArn, s.shardId(), seen, shardOf));
        }
        waitFor(() -> delivered(subs, seen), () -> "SubscribeToShard delivered "
                + seen.size() + " of " + written.size() + " records");
        ok("SubscribeToShard TRIM_HORIZON on " + shards.size() + " shards delivered all " + written.size() + " records");

        // Records written while subscribed are pushed on the open streams.
        List<PutRecordsRequestEntry> more = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            byte[] data = randomBytes(1 + rnd.nextInt(300));
            more.add(PutRecordsRequestEntry.builder().partitionKey("live-" + i).data(SdkBytes.fromByteArray(data)).build());
        }
        PutRecordsResponse res = kinesis.putRecords(r -> r.streamName(stream).records(more)).join();
        check(res.failedRecordCount() == 0, "FailedRecordCount " + res.failedRecordCount());
        for (int i = 0; i < more.size(); i++) {
            PutRecordsRequestEntry in = more.get(i);
            PutRecordsResultEntry out = res.records().get(i);
            written.put(in.partitionKey(), new Written(in.partitionKey(), in.data().asByteArray(), out.shardId(), out.sequenceNumber()));
        }
        waitFor(() -> delivered(subs, seen), () -> "live records delivered "
                + seen.size() + " of " + written.size());
        for (Sub sub : subs) {
            sub.verify();
        }
        check(seen.keySet().equals(written.keySet()), "SubscribeToShard keys differ from written keys");
        for (Record rec : seen.values()) {
            checkRecord(rec, shardOf.get(rec.partitionKey()));
        }
        ok("SubscribeToShard pushed 10 live records; ContinuationSequenceNumber = last delivered record "
                + subs.get(0).continuation.get());
        for (Sub sub : subs) {
            sub.cancel();
        }

        ConsumerDescription d = kinesis.describeStreamConsumer(r -> r.consumerARN(consumerArn)).join().consumerDescription();
        near(d.consumerCreationTimestamp(), "ConsumerCreationTimestamp");
        resubscribe(consumerArn, subs.get(0));
        return consumerArn;
    }

    /** KCL's periodic re-subscription: AFTER the last ContinuationSequenceNumber, nothing twice. */
    private void resubscribe(String consumerArn, Sub old) throws Exception {
        String after = old.continuation.get();
        StartingPosition pos = StartingPosition.builder().type(ShardIteratorType.AFTER_SEQUENCE_NUMBER)
                .sequenceNumber(after).build();
        Map<String, Record> seen = new ConcurrentHashMap<>();
        Sub sub = duplicate(consumerArn, subscribeRetrying(consumerArn, old.shardId, pos, seen), pos, seen);
        Shard shard = kinesis.listShards(r -> r.streamName(stream)).join().shards().stream()
                .filter(x -> x.shardId().equals(old.shardId)).findFirst().orElseThrow();
        byte[] data = randomBytes(77);
        PutRecordResponse put = kinesis.putRecord(r -> r.streamName(stream).partitionKey("resub")
                .explicitHashKey(shard.hashKeyRange().startingHashKey()).data(SdkBytes.fromByteArray(data))).join();
        check(put.shardId().equals(old.shardId), "ExplicitHashKey routed to " + put.shardId());
        written.put("resub", new Written("resub", data, put.shardId(), put.sequenceNumber()));
        waitFor(() -> {
            check(sub.problem.get() == null, sub.problem.get());
            return seen.containsKey("resub");
        }, () -> "re-subscription delivered " + seen.keySet());
        check(seen.size() == 1, "re-subscription AFTER_SEQUENCE_NUMBER redelivered " + seen.keySet());
        sub.verify();
        checkRecord(seen.get("resub"), old.shardId);
        sub.cancel();
        ok("SubscribeToShard AFTER_SEQUENCE_NUMBER " + after + " resumed with exactly the next record");
    }

    /**
     * A second subscription of the same consumer and shard right after the first one
     * started must be refused with ResourceInUseException (KCL relies on that code).
     * Returns the subscription that is live afterwards.
     */
    private Sub duplicate(String consumerArn, Sub live, StartingPosition pos, Map<String, Record> seen) throws Exception {
        long started = System.nanoTime();
        live.cancelled = true; // if the duplicate is accepted, the live one ends cleanly
        Sub dup = new Sub(consumerArn, live.shardId, pos, seen, new ConcurrentHashMap<>());
        try {
            CompletableFuture.anyOf(dup.initial, dup.call).get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable t = unwrap(e);
            check(t instanceof ResourceInUseException, "duplicate SubscribeToShard raised " + t);
            live.cancelled = false;
            ok("duplicate SubscribeToShard within 5 s -> ResourceInUseException: "
                    + ((KinesisException) t).awsErrorDetails().errorMessage());
            return live;
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        check(ms > 4000, "duplicate SubscribeToShard accepted " + ms + " ms after the first one started");
        System.out.println("note duplicate SubscribeToShard accepted after " + ms + " ms (slow machine): it replaced the first");
        return dup;
    }

    /** Subscribes, retrying ResourceInUseException for a few seconds as KCL does. */
    private Sub subscribeRetrying(String consumerArn, String shardId, StartingPosition pos, Map<String, Record> seen)
            throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        int inUse = 0;
        while (true) {
            Sub sub = new Sub(consumerArn, shardId, pos, seen, new ConcurrentHashMap<>());
            try {
                CompletableFuture.anyOf(sub.initial, sub.call).get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                Throwable t = unwrap(e);
                if (t instanceof ResourceInUseException && System.nanoTime() < deadline) {
                    inUse++;
                    Thread.sleep(500);
                    continue;
                }
                throw e;
            }
            check(sub.initial.isDone(), shardId + ": subscription ended before its initial-response");
            if (inUse > 0) {
                System.out.println("note SubscribeToShard " + shardId + " got ResourceInUseException " + inUse
                        + " times before succeeding (previous subscription still live)");
            }
            return sub;
        }
    }

    private boolean delivered(List<Sub> subs, Map<String, Record> seen) {
        for (Sub sub : subs) {
            check(sub.problem.get() == null, sub.problem.get());
        }
        return seen.keySet().containsAll(written.keySet());
    }

    private String waitConsumerActive(String arn) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            ConsumerDescription d = kinesis.describeStreamConsumer(r -> r.streamARN(arn).consumerName("java-check")).join()
                    .consumerDescription();
            check(d.streamARN().equals(arn), "consumer StreamARN " + d.streamARN());
            if (d.consumerStatus() == ConsumerStatus.ACTIVE) {
                return d.consumerARN();
            }
            check(System.nanoTime() < deadline, "consumer still " + d.consumerStatus());
            Thread.sleep(100);
        }
    }

    /** One SubscribeToShard call with its own reactive-streams subscriber. */
    private final class Sub implements Subscriber<SubscribeToShardEventStream> {
        final String shardId;
        final Map<String, Record> seen;
        final Map<String, String> shardOf;
        final AtomicReference<String> continuation = new AtomicReference<>();
        final AtomicReference<String> problem = new AtomicReference<>();
        final AtomicReference<Subscription> subscription = new AtomicReference<>();
        final CompletableFuture<SubscribeToShardResponse> initial = new CompletableFuture<>();
        final CompletableFuture<Void> call;
        final AtomicReference<List<ChildShard>> children = new AtomicReference<>();
        final CompletableFuture<Void> completed = new CompletableFuture<>();
        volatile boolean cancelled;
        volatile BigInteger last = BigInteger.valueOf(-1);
        volatile int events;

        Sub(String consumerArn, String shardId, Map<String, Record> seen, Map<String, String> shardOf) {
            this(consumerArn, shardId, StartingPosition.builder().type(ShardIteratorType.TRIM_HORIZON).build(), seen, shardOf);
        }

        Sub(String consumerArn, String shardId, StartingPosition pos, Map<String, Record> seen, Map<String, String> shardOf) {
            this.shardId = shardId;
            this.seen = seen;
            this.shardOf = shardOf;
            SubscribeToShardResponseHandler handler = SubscribeToShardResponseHandler.builder()
                    .onResponse(initial::complete)
                    .onEventStream(p -> p.subscribe(this))
                    .onError(t -> {
                        if (!cancelled) {
                            problem.compareAndSet(null, "subscription error: " + unwrap(t));
                        }
                    })
                    .build();
            call = kinesis.subscribeToShard(r -> r.consumerARN(consumerArn).shardId(shardId)
                    .startingPosition(pos), handler);
        }

        @Override
        public void onSubscribe(Subscription s) {
            subscription.set(s);
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(SubscribeToShardEventStream ev) {
            if (!(ev instanceof SubscribeToShardEvent e)) {
                problem.compareAndSet(null, "unexpected event " + ev);
                return;
            }
            events++;
            try {
                check(children.get() == null, "event after the shard-end event");
                if (e.hasChildShards() && !e.childShards().isEmpty()) {
                    check(e.continuationSequenceNumber() == null, "shard-end event with ContinuationSequenceNumber "
                            + e.continuationSequenceNumber());
                    children.set(e.childShards());
                } else {
                    check(e.continuationSequenceNumber() != null, "event without ContinuationSequenceNumber on open shard");
                }
                check(e.millisBehindLatest() != null, "event without MillisBehindLatest");
                for (Record rec : e.records()) {
                    BigInteger seq = checkSeq(rec.sequenceNumber());
                    check(seq.compareTo(last) > 0, "event records out of order in " + shardId);
                    last = seq;
                    check(seen.put(rec.partitionKey(), rec) == null, "record " + rec.partitionKey() + " delivered twice");
                    shardOf.put(rec.partitionKey(), shardId);
                }
                if (!e.records().isEmpty() && e.continuationSequenceNumber() != null) {
                    String lastSeq = e.records().get(e.records().size() - 1).sequenceNumber();
                    check(lastSeq.equals(e.continuationSequenceNumber()), "ContinuationSequenceNumber "
                            + e.continuationSequenceNumber() + " != last record " + lastSeq);
                }
                if (e.continuationSequenceNumber() != null) {
                    continuation.set(e.continuationSequenceNumber());
                }
            } catch (Throwable t) {
                problem.compareAndSet(null, shardId + ": " + t.getMessage());
            }
        }

        @Override
        public void onError(Throwable t) {
            if (!cancelled) {
                problem.compareAndSet(null, shardId + " stream error: " + unwrap(t));
            }
        }

        @Override
        public void onComplete() {
            completed.complete(null);
            if (!cancelled && children.get() == null) {
                problem.compareAndSet(null, shardId + " stream ended early after " + events + " events");
            }
        }

        void verify() throws Exception {
            check(problem.get() == null, problem.get());
            check(initial.isDone(), shardId + ": no initial-response");
            check(continuation.get() != null, shardId + ": no ContinuationSequenceNumber");
        }

        void cancel() {
            cancelled = true;
            Subscription s = subscription.get();
            if (s != null) {
                s.cancel();
            }
        }
    }

    // ---- resharding ----

    private void split(String arn, List<Shard> shards, String consumerArn) throws Exception {
        Shard parent = shards.get(0);
        BigInteger lo = new BigInteger(parent.hashKeyRange().startingHashKey());
        BigInteger hi = new BigInteger(parent.hashKeyRange().endingHashKey());
        String mid = lo.add(hi).shiftRight(1).toString();
        kinesis.splitShard(r -> r.streamName(stream).shardToSplit(parent.shardId()).newStartingHashKey(mid)).join();
        waitActive();
        ok("SplitShard " + parent.shardId() + " at " + mid);

        List<Shard> all = kinesis.listShards(r -> r.streamName(stream)).join().shards();
        check(all.size() == 4, "after split ListShards " + ids(all));
        Shard closed = all.stream().filter(s -> s.shardId().equals(parent.shardId())).findFirst().orElseThrow();
        check(closed.sequenceNumberRange().endingSequenceNumber() != null, "closed parent has no EndingSequenceNumber");
        List<Shard> open = kinesis.listShards(r -> r.streamARN(arn)
                .shardFilter(f -> f.type(ShardFilterType.AT_LATEST))).join().shards();
        check(open.size() == 3, "after split AT_LATEST " + ids(open));
        for (Shard s : open) {
            check(!s.shardId().equals(parent.shardId()), "closed parent listed AT_LATEST");
        }
        ok("ListShards after split: parent closed, " + open.size() + " open");

        long expected = written.values().stream().filter(w -> w.shardId().equals(parent.shardId())).count();
        String it = kinesis.getShardIterator(r -> r.streamName(stream).shardId(parent.shardId())
                .shardIteratorType(ShardIteratorType.TRIM_HORIZON)).join().shardIterator();
        int got = 0;
        int calls = 0;
        List<ChildShard> children = null;
        while (it != null) {
            String iter = it;
            GetRecordsResponse res = kinesis.getRecords(r -> r.shardIterator(iter).limit(7)).join();
            got += res.records().size();
            it = res.nextShardIterator();
            if (it == null) {
                children = res.childShards();
            } else {
                check(!res.hasChildShards() || res.childShards().isEmpty(), "ChildShards with a NextShardIterator");
            }
            check(++calls < 100, "closed shard never ends");
            Thread.sleep(210); // 5 GetRecords per second per shard
        }
        check(got == expected, "closed parent read " + got + " of " + expected);
        checkChildren(children, parent.shardId());
        ok("GetRecords on closed " + parent.shardId() + ": " + got + " records, then no NextShardIterator and ChildShards "
                + children.stream().map(ChildShard::shardId).toList());

        // What KCL does on a closed shard: LATEST, then one GetRecords must end the shard.
        String latest = kinesis.getShardIterator(r -> r.streamName(stream).shardId(parent.shardId())
                .shardIteratorType(ShardIteratorType.LATEST)).join().shardIterator();
        GetRecordsResponse end = kinesis.getRecords(r -> r.shardIterator(latest)).join();
        check(end.records().isEmpty(), "LATEST on closed shard returned records");
        check(end.nextShardIterator() == null, "LATEST on closed shard returned a NextShardIterator");
        checkChildren(end.childShards(), parent.shardId());
        ok("GetShardIterator LATEST on closed shard + GetRecords -> ChildShards");

        // Enhanced fan-out reaches the same end: records, then ChildShards without a
        // ContinuationSequenceNumber, then the stream completes.
        Map<String, Record> seen = new ConcurrentHashMap<>();
        Sub sub = subscribeRetrying(consumerArn, parent.shardId(),
                StartingPosition.builder().type(ShardIteratorType.TRIM_HORIZON).build(), seen);
        waitFor(() -> {
            check(sub.problem.get() == null, sub.problem.get());
            return sub.completed.isDone();
        }, () -> "subscription to the closed shard did not end; " + seen.size() + " records, children "
                + sub.children.get());
        check(sub.problem.get() == null, sub.problem.get());
        check(seen.size() == expected, "EFO on closed parent delivered " + seen.size() + " of " + expected);
        checkChildren(sub.children.get(), parent.shardId());
        ok("SubscribeToShard on closed " + parent.shardId() + ": " + seen.size()
                + " records, then ChildShards without ContinuationSequenceNumber, then end of stream");
    }

    private void checkChildren(List<ChildShard> children, String parent) {
        check(children != null && children.size() == 2, "ChildShards " + children);
        for (ChildShard c : children) {
            check(c.parentShards().equals(List.of(parent)), c.shardId() + " ParentShards " + c.parentShards());
            check(c.hashKeyRange() != null && c.hashKeyRange().startingHashKey() != null, c.shardId() + " no HashKeyRange");
        }
    }

    // ---- helpers ----

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    private static boolean cborEnabled() {
        return Boolean.parseBoolean(System.getProperty("aws.cborEnabled", "true"));
    }

    private static BigInteger checkSeq(String seq) {
        check(seq != null && seq.matches("0|[1-9][0-9]{0,127}"), "bad sequence number " + seq);
        return new BigInteger(seq);
    }

    private static void near(Instant t, String what) {
        check(t != null, what + " missing");
        long d = Math.abs(t.toEpochMilli() - System.currentTimeMillis());
        check(d < CLOCK_SLACK_MS, what + " = " + t + " is " + d + " ms away from now");
    }

    private static List<String> ids(List<Shard> shards) {
        return shards.stream().map(Shard::shardId).toList();
    }

    private interface Cond {
        boolean get() throws Exception;
    }

    private static void waitFor(Cond c, java.util.function.Supplier<String> what) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!c.get()) {
            if (System.nanoTime() > deadline) {
                fail("timed out: " + what.get());
            }
            Thread.sleep(50);
        }
    }

    private static void ok(String step) {
        System.out.println("ok   " + step);
    }

    private static void check(boolean cond, String msg) {
        if (!cond) {
            fail(msg);
        }
    }

    private static void fail(String msg) {
        throw new AssertionError(msg);
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t.getClass().getName().endsWith("ExecutionException"))
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
