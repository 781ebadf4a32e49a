package io.meridian.kafka;

import io.meridian.serving.LoopbackPorts;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * A real single-node Kafka broker (KRaft, broker and controller in one process) in a forked JVM,
 * for tests and {@code bin/meridian dev}. Its classpath is the one the {@code kafka-broker} module
 * fetched from Maven ({@code kafka-broker/target/broker-classpath.txt}), so the broker's
 * dependencies never meet Meridian's. Its data and log ({@code broker.log}) live in the given
 * directory; {@link #stop()} (or {@link #kill()}) and {@link #start()} restart it on the same ports
 * with the same data.
 *
 * <pre>{@code
 * try (KafkaBroker kafka = KafkaBroker.start(dir)) {
 *   producerProps.put("bootstrap.servers", kafka.bootstrapServers());
 * }
 * }</pre>
 *
 * Production runs the bridge against an existing Kafka cluster instead (see docs/replication.md).
 */
public final class KafkaBroker implements AutoCloseable {
  /** Where the broker's classpath file is, unless {@code meridian.kafka.classpath} says. */
  private static final String CLASSPATH_FILE = "kafka-broker/target/broker-classpath.txt";

  private final Path dir;
  private final String classpath;
  private final int port;
  private final int controllerPort;
  private Process process;
  // Stops the broker if this JVM exits without closing it, so no broker outlives its tests.
  private Thread exitHook;

  private KafkaBroker(Path dir, String classpath, int port, int controllerPort) {
    this.dir = dir;
    this.classpath = classpath;
    this.port = port;
    this.controllerPort = controllerPort;
  }

  /**
   * Starts the broker in {@code dir}: the one formatted there before, with its cluster id, ports
   * and data, or else a new one formatted on free loopback ports.
   */
  public static KafkaBroker start(Path dir) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    KafkaBroker broker = formatted(dir);
    if (broker == null) {
      broker = new KafkaBroker(dir, classpath(), LoopbackPorts.free(), LoopbackPorts.free());
      broker.writeProperties();
      broker.format();
    }
    broker.start();
    return broker;
  }

  /**
   * The broker formatted in {@code dir} before, or null. It keeps its ports: the KRaft quorum
   * recorded its controller's address when it was formatted, and a second format would fail on the
   * cluster id already in the data.
   */
  private static KafkaBroker formatted(Path dir) throws IOException {
    Path properties = dir.resolve("server.properties");
    if (!Files.isRegularFile(dir.resolve("data").resolve("meta.properties"))
        || !Files.isRegularFile(properties)) {
      return null;
    }
    java.util.Properties p = new java.util.Properties();
    try (var in = Files.newBufferedReader(properties, StandardCharsets.UTF_8)) {
      p.load(in);
    }
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("PLAINTEXT://[^:,]+:(\\d+),CONTROLLER://[^:,]+:(\\d+)")
            .matcher(p.getProperty("listeners", ""));
    if (!m.matches()) {
      throw new IOException(
          properties
              + ": listeners="
              + p.getProperty("listeners")
              + " is not one this class wrote");
    }
    return new KafkaBroker(
        dir, classpath(), Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
  }

  /** host:port for {@code bootstrap.servers}. */
  public String bootstrapServers() {
    return "127.0.0.1:" + port;
  }

  /** Starts the broker (again) and waits until it answers. */
  public synchronized void start() throws IOException, InterruptedException {
    if (process != null && process.isAlive()) {
      return;
    }
    process =
        java(List.of("kafka.Kafka", properties().toString()))
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("broker.log").toFile()))
            .start();
    Process started = process;
    exitHook = new Thread(started::destroyForcibly, "kafka-broker-exit");
    Runtime.getRuntime().addShutdownHook(exitHook);
    awaitReady(Duration.ofSeconds(90));
  }

  /** Stops the broker (SIGTERM, then SIGKILL after 20 s); its data stays. */
  public synchronized void stop() {
    end(Duration.ofSeconds(20));
  }

  /** Kills the broker at once (SIGKILL), as a crash would; its data stays. */
  public synchronized void kill() {
    end(Duration.ZERO);
  }

  private void end(Duration grace) {
    if (process == null) {
      return;
    }
    if (!grace.isZero()) {
      process.destroy();
    }
    try {
      if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    process = null;
    try {
      Runtime.getRuntime().removeShutdownHook(exitHook);
    } catch (IllegalStateException e) {
      // The JVM is exiting: the hook is running or has run.
    }
  }

  @Override
  public void close() {
    stop();
  }

  private Path properties() {
    return dir.resolve("server.properties");
  }

  private void writeProperties() throws IOException {
    String listeners =
        "PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort;
    List<String> lines =
        List.of(
            "process.roles=broker,controller",
            "node.id=1",
            "controller.quorum.bootstrap.servers=127.0.0.1:" + controllerPort,
            "listeners=" + listeners,
            "advertised.listeners=" + listeners,
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs=" + dir.resolve("data"),
            "offsets.topic.replication.factor=1",
            // The bridge's source heartbeat commits offsets in its transactions: one partition
            // is created at once, Kafka's 50 took over 10 s on a busy machine.
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            // Meridian's largest batch part; see docs/replication.md for production settings.
            "message.max.bytes=8388608");
    Files.write(properties(), lines, StandardCharsets.UTF_8);
  }

  private void format() throws IOException, InterruptedException {
    String clusterId = run(List.of("kafka.tools.StorageTool", "random-uuid")).trim();
    String[] lines = clusterId.split("\\R");
    clusterId = lines[lines.length - 1].trim();
    run(
        List.of(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            clusterId,
            "-c",
            properties().toString(),
            "--standalone"));
  }

  private String run(List<String> args) throws IOException, InterruptedException {
    Process p = java(args).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IOException("kafka " + args + " failed: " + out);
    }
    return out;
  }

  private ProcessBuilder java(List<String> args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx512m");
    command.add("-cp");
    command.add(classpath);
    command.addAll(args);
    return new ProcessBuilder(command).directory(dir.toFile());
  }

  private void awaitReady(Duration timeout) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2000);
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 3000);
    String last = "no answer";
    try (Admin admin = Admin.create(props)) {
      while (System.nanoTime() < deadline) {
        if (!process.isAlive()) {
          throw new IOException(
              "the Kafka broker exited with "
                  + process.exitValue()
                  + "; see "
                  + dir.resolve("broker.log"));
        }
        try {
          admin.describeCluster().nodes().get(3, TimeUnit.SECONDS);
          return;
        } catch (ExecutionException | TimeoutException e) {
          last = e.toString();
        }
      }
    }
    throw new IOException(
        "the Kafka broker did not answer within "
            + timeout.toSeconds()
            + " s ("
            + last
            + "); see "
            + dir.resolve("broker.log"));
  }

  /**
   * The broker's classpath: from the file the kafka-broker module wrote, or, where {@code
   * meridian.kafka.classpath} names a directory (the release archive's {@code lib/kafka}), every
   * jar in it.
   */
  static String classpath() throws IOException {
    String configured = System.getProperty("meridian.kafka.classpath");
    if (configured != null && Files.isDirectory(Path.of(configured))) {
      return Path.of(configured).toAbsolutePath().resolve("*").toString();
    }
    Path file = configured != null ? Path.of(configured) : findUp(Path.of("").toAbsolutePath());
    if (file == null || !Files.isRegularFile(file)) {
      throw new IOException(
          CLASSPATH_FILE
              + " not found (run `mvn -B package -DskipTests` at the project root, or set"
              + " -Dmeridian.kafka.classpath)");
    }
    return Files.readString(file).trim();
  }

  /** {@link #CLASSPATH_FILE} under {@code from} or one of its parents. */
  private static Path findUp(Path from) {
    for (Path p = from; p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve(CLASSPATH_FILE))) {
        return p.resolve(CLASSPATH_FILE);
      }
    }
    return null;
  }
}
