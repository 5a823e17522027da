package io.sluice.opensearch;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;

/**
 * A single OpenSearch node for Sluice's integration tests, from the jars on Maven Central
 * (no distribution archive is published there).
 *
 * <p>HOME is laid out like the distribution: the server's jars are on the classpath (the
 * distribution's lib/), and HOME/modules/NAME/ holds each module's jars with the
 * plugin-descriptor.properties the harness writes, so the node loads its modules the way
 * the distribution does: one class loader each, painless extensions by SPI. What this
 * main leaves out is the distribution's Bootstrap: no security manager (the module jars
 * carry no security policy), no bootstrap checks, no refusal to run as root, no keystore.
 *
 * <p>Usage: {@code java -cp CLASSPATH io.sluice.opensearch.SluiceOpenSearch HOME}, where
 * HOME/config holds opensearch.yml and log4j2.properties. It runs until SIGTERM or SIGINT,
 * then closes the node and exits.
 */
public final class SluiceOpenSearch {
    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: SluiceOpenSearch HOME");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath();
        LogConfigurator.registerErrorListener();
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            Settings.builder().put(Environment.PATH_HOME_SETTING.getKey(), home.toString()).build(),
            Collections.emptyMap(),
            home.resolve("config"),
            () -> "sluice");
        if (Node.NODE_NAME_SETTING.exists(env.settings())) {
            LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
        }
        LogConfigurator.configure(env);

        Node node = new Node(env);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "sluice-opensearch-shutdown"));
        node.start();

        // The node's own threads are daemons: hold the JVM until the shutdown hook has run.
        Thread keepAlive = new Thread(() -> {
            try {
                closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "sluice-opensearch-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();
    }
}
