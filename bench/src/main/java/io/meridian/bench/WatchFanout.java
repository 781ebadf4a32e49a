package io.meridian.bench;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.util.EventLoopGroups;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchGrpc;
import io.meridian.api.v1.WatchRequest;
import io.meridian.api.v1.WatchResponse;
import io.netty.channel.EventLoopGroup;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The watcher process of workload {@code watch-fanout}, started by {@link WatchFanoutWorkload} as a
 * separate JVM: opens {@code --connections} TCP connections to one node, each carrying one
 * bidirectional Watch stream with {@code --watches} prefix watches on {@code --prefix}, and reports
 * on standard output, one line each:
 *
 * <pre>
 *   READY &lt;watches created&gt; &lt;established TCP connections to the node&gt;
 *   LAST &lt;write index&gt; &lt;send µs&gt; &lt;first watcher µs&gt; &lt;last watcher µs&gt;
 *   ERROR &lt;what&gt;                        (at most 20)
 *   PARTIAL &lt;write index&gt; &lt;watchers that saw it&gt;   (at exit, writes not seen by all)
 *   STATS events=&lt;n&gt; failed-streams=&lt;n&gt; canceled-watches=&lt;n&gt;
 *         events-per-connection-min/median/max=&lt;n&gt;/&lt;n&gt;/&lt;n&gt;
 * </pre>
 *
 * A write is key {@code <prefix>k<index>} with the writer's wall-clock send time in microseconds as
 * its value; times are wall-clock microseconds ({@link Instant#now()}), comparable between the two
 * processes because both run on the same machine. LAST is printed when the last of all watchers has
 * seen the write.
 *
 * <p>Distinct connections: every stream has its own {@link ClientFactory}, and a factory keeps its
 * own connection pool, so no two streams share a connection (all factories share one event loop
 * group). READY counts the process's established sockets to the node's port in {@code /proc} to
 * show it.
 *
 * <p>Exits on {@code STOP} or end of standard input (the bench stopped or died), or after {@code
 * --max-seconds}.
 */
@Command(name = "WatchFanout", mixinStandardHelpOptions = true)
public final class WatchFanout implements Callable<Integer> {
  private static final int MAX_ERROR_LINES = 20;

  @Option(names = "--url", required = true, description = "The node's client URL.")
  private String url;

  @Option(names = "--connections", defaultValue = "100")
  private int connections;

  @Option(names = "--watches", defaultValue = "100", description = "Watches per connection.")
  private int watchesPerConnection;

  @Option(names = "--prefix", defaultValue = "/fan/")
  private String prefix;

  @Option(names = "--max-seconds", defaultValue = "900")
  private long maxSeconds;

  @Option(names = "--event-loops", defaultValue = "2")
  private int eventLoops;

  private final PrintStream out =
      new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
  private final Map<Integer, Tracker> writes = new ConcurrentHashMap<>();
  private final AtomicInteger created = new AtomicInteger();
  private final AtomicLong events = new AtomicLong();
  private AtomicLongArray eventsPerConnection;
  private final AtomicInteger failedStreams = new AtomicInteger();
  private final AtomicInteger canceledWatches = new AtomicInteger();
  private final AtomicInteger errorLines = new AtomicInteger();
  private int total;
  private volatile boolean stopping;

  /** One write: how many watchers saw it, and when the first and the last did (µs). */
  private static final class Tracker {
    final AtomicInteger seen = new AtomicInteger();
    final AtomicLong first = new AtomicLong(Long.MAX_VALUE);
    final AtomicLong last = new AtomicLong();
    volatile long sent;
  }

  public static void main(String[] args) {
    int code =
        new CommandLine(new WatchFanout())
            .setExecutionExceptionHandler(
                (e, commandLine, parseResult) -> {
                  System.out.println("ERROR failed: " + e);
                  return 1;
                })
            .execute(args);
    System.exit(code);
  }

  @Override
  public Integer call() throws Exception {
    total = connections * watchesPerConnection;
    eventsPerConnection = new AtomicLongArray(connections);
    Thread limit =
        new Thread(
            () -> {
              try {
                Thread.sleep(maxSeconds * 1000);
                error("time limit of " + maxSeconds + " s reached, exiting");
                System.exit(3);
              } catch (InterruptedException e) {
                // Stopped normally.
              }
            },
            "watch-fanout-limit");
    limit.setDaemon(true);
    limit.start();

    EventLoopGroup loops = EventLoopGroups.newEventLoopGroup(eventLoops);
    List<ClientFactory> factories = new ArrayList<>();
    List<StreamObserver<WatchRequest>> streams = new ArrayList<>();
    try {
      for (int c = 0; c < connections; c++) {
        ClientFactory factory = ClientFactory.builder().workerGroup(loops, false).build();
        factories.add(factory);
        WatchGrpc.WatchStub stub =
            GrpcClients.builder(url)
                .factory(factory)
                .responseTimeoutMillis(0)
                .maxResponseLength(0)
                .build(WatchGrpc.WatchStub.class);
        StreamObserver<WatchRequest> requests = stub.watch(new Responses(c));
        for (int w = 1; w <= watchesPerConnection; w++) {
          requests.onNext(
              WatchRequest.newBuilder()
                  .setCreateRequest(
                      WatchCreateRequest.newBuilder().setKey(prefix).setPrefix(true).setWatchId(w))
                  .build());
        }
        streams.add(requests);
      }
      waitForStop();
    } finally {
      stopping = true;
      limit.interrupt();
      for (var s : streams) {
        try {
          s.onCompleted();
        } catch (RuntimeException e) {
          // The stream failed already.
        }
      }
      for (var w : writes.entrySet()) {
        out.println("PARTIAL " + w.getKey() + " " + w.getValue().seen.get());
      }
      long[] perConnection = new long[connections];
      for (int c = 0; c < connections; c++) {
        perConnection[c] = eventsPerConnection.get(c);
      }
      Arrays.sort(perConnection);
      out.printf(
          "STATS events=%d failed-streams=%d canceled-watches=%d"
              + " events-per-connection-min/median/max=%d/%d/%d%n",
          events.get(),
          failedStreams.get(),
          canceledWatches.get(),
          perConnection[0],
          perConnection[connections / 2],
          perConnection[connections - 1]);
      for (ClientFactory f : factories) {
        f.closeAsync();
      }
      loops.shutdownGracefully();
    }
    return 0;
  }

  /** Returns on STOP or at the end of standard input. */
  private static void waitForStop() throws IOException {
    BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      if (line.trim().equals("STOP")) {
        return;
      }
    }
  }

  private void error(String what) {
    if (errorLines.getAndIncrement() < MAX_ERROR_LINES) {
      out.println("ERROR " + what.replace('\n', ' '));
    }
  }

  private final class Responses implements StreamObserver<WatchResponse> {
    private final int connection;

    Responses(int connection) {
      this.connection = connection;
    }

    @Override
    public void onNext(WatchResponse response) {
      long now = nowMicros();
      if (response.getCreated()) {
        if (created.incrementAndGet() == total) {
          out.println("READY " + total + " " + establishedConnections());
        }
      }
      if (response.getCanceled()) {
        canceledWatches.incrementAndGet();
        error(
            "connection "
                + connection
                + " watch "
                + response.getWatchId()
                + " canceled: "
                + response.getError().getCode()
                + " "
                + response.getError().getMessage());
      }
      for (Event e : response.getEventsList()) {
        events.incrementAndGet();
        eventsPerConnection.incrementAndGet(connection);
        seen(e, now);
      }
    }

    @Override
    public void onError(Throwable t) {
      if (stopping) {
        return; // Closing the client factories resets the streams.
      }
      failedStreams.incrementAndGet();
      error("connection " + connection + " stream failed: " + Endpoints.describe(t));
    }

    @Override
    public void onCompleted() {}
  }

  private void seen(Event e, long now) {
    String key = e.getKv().getKey();
    int index;
    long sent;
    try {
      index = Integer.parseInt(key.substring(prefix.length() + 1));
      sent = Long.parseLong(e.getKv().getValue().toStringUtf8());
    } catch (RuntimeException bad) {
      error("unexpected event of key " + key);
      return;
    }
    Tracker t = writes.computeIfAbsent(index, i -> new Tracker());
    t.sent = sent;
    t.first.accumulateAndGet(now, Math::min);
    t.last.accumulateAndGet(now, Math::max);
    if (t.seen.incrementAndGet() == total) {
      writes.remove(index);
      out.println("LAST " + index + " " + sent + " " + t.first.get() + " " + t.last.get());
    }
  }

  /** Wall-clock microseconds: comparable with the writer's, another process on this machine. */
  static long nowMicros() {
    Instant now = Instant.now();
    return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
  }

  /** This process's established TCP sockets whose remote port is the node's, from /proc. */
  private long establishedConnections() {
    int port = URI.create(url).getPort();
    Set<String> inodes = new HashSet<>();
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
      for (Path fd : fds) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring(8, target.length() - 1));
          }
        } catch (IOException e) {
          // Closed meanwhile.
        }
      }
      long count = 0;
      for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
        List<String> rows = Files.readAllLines(Path.of(table));
        for (String line : rows.subList(Math.min(1, rows.size()), rows.size())) {
          String[] f = line.trim().split("\\s+");
          String remote = f[2];
          int remotePort = Integer.parseInt(remote.substring(remote.indexOf(':') + 1), 16);
          if (f[3].equals("01") && remotePort == port && inodes.contains(f[9])) {
            count++;
          }
        }
      }
      return count;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
