package io.meridian.ctl;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.ResponseHeader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A steady write load through one router on a thread of its own: puts {@code <prefix><i>} = {@code
 * v<i>}, one key per write and never twice, one every {@code interval}, and records each
 * acknowledgement (its revision, epoch and region, and when it came back). Bounded: it stops after
 * {@code maxWrites} attempts or {@code maxRun}, whichever comes first, or at {@link #close}.
 */
final class WriteLoad implements AutoCloseable {
  /** A write the shard acknowledged: what was written, where, and when the answer came. */
  record Ack(String key, String value, long revision, long epoch, String region, long atNanos) {}

  private final String prefix;
  private final KVGrpc.KVBlockingStub kv;
  private final int maxWrites;
  private final long maxRunNanos;
  private final Duration interval;
  private final Thread thread;
  private volatile boolean stopped;

  // Guarded by this.
  private final List<Ack> acks = new ArrayList<>();
  private int refused;

  WriteLoad(String router, String prefix, int maxWrites, Duration maxRun, Duration interval) {
    this.prefix = prefix;
    this.kv =
        GrpcClients.builder(router)
            .responseTimeout(Duration.ofSeconds(3))
            .addHeader(ShardHeader.NAME, "0")
            .build(KVGrpc.KVBlockingStub.class);
    this.maxWrites = maxWrites;
    this.maxRunNanos = maxRun.toNanos();
    this.interval = interval;
    this.thread = new Thread(this::run, "write-load-" + prefix);
    this.thread.setDaemon(true);
  }

  WriteLoad start() {
    thread.start();
    return this;
  }

  private void run() {
    long end = System.nanoTime() + maxRunNanos;
    for (int i = 0; i < maxWrites && !stopped && System.nanoTime() < end; i++) {
      String key = prefix + i;
      String value = "v" + i;
      try {
        ResponseHeader h =
            kv.put(
                    PutRequest.newBuilder()
                        .setKey(key)
                        .setValue(ByteString.copyFromUtf8(value))
                        .build())
                .getHeader();
        synchronized (this) {
          acks.add(
              new Ack(key, value, h.getRevision(), h.getEpoch(), h.getRegion(), System.nanoTime()));
        }
      } catch (RuntimeException e) {
        // Refused or timed out: not acknowledged, so it may or may not be there; never retried.
        synchronized (this) {
          refused++;
        }
      }
      try {
        TimeUnit.NANOSECONDS.sleep(interval.toNanos());
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Every acknowledgement so far, in the order they came. */
  synchronized List<Ack> acks() {
    return List.copyOf(acks);
  }

  synchronized int refused() {
    return refused;
  }

  /** How many writes were acknowledged so far. */
  synchronized int acknowledged() {
    return acks.size();
  }

  /** The first acknowledgement that came after {@code nanos}, or null. */
  synchronized Ack firstAfter(long nanos) {
    return acks.stream().filter(a -> a.atNanos() > nanos).findFirst().orElse(null);
  }

  /** The longest time between two acknowledgements in a row: how long writes were refused. */
  synchronized Duration longestGap() {
    long gap = 0;
    for (int i = 1; i < acks.size(); i++) {
      gap = Math.max(gap, acks.get(i).atNanos() - acks.get(i - 1).atNanos());
    }
    return Duration.ofNanos(gap);
  }

  /** Stops the load and waits for its last write to end. */
  @Override
  public void close() throws InterruptedException {
    stopped = true;
    thread.join(TimeUnit.SECONDS.toMillis(10));
  }
}
