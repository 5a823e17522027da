package io.sluice.opensearch;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.ingest.common.IngestCommonPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single OpenSearch node for Sluice's integration tests, assembled from the jars on Maven
 * Central (no distribution archive is published there).
 *
 * <p>The distribution loads its modules from modules/NAME/ directories with a
 * plugin-descriptor.properties each; the module jars on Maven carry no descriptor, so this
 * main puts the server and the modules on one classpath and registers the modules as
 * classpath plugins, the way the OpenSearch test framework's MockNode does. It skips the
 * distribution's Bootstrap (security manager, bootstrap checks, the refusal to run as root),
 * which is what lets it run here as a throwaway loopback node.
 *
 * <p>Usage: {@code java -cp CLASSPATH io.sluice.opensearch.SluiceOpenSearch HOME}, where
 * HOME/config holds opensearch.yml and log4j2.properties. It runs until SIGTERM or SIGINT,
 * then closes the node and exits 0.
 */
public final class SluiceOpenSearch {
    /** The modules a node gets: HTTP and transport, painless, analyzers, ingest processors. */
    static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class,
        PainlessPlugin.class,
        CommonAnalysisPlugin.class,
        IngestCommonPlugin.class
    );

    /** Node's constructor that takes classpath plugins is protected. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

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

        Node node = new ClasspathNode(env, MODULES);
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
