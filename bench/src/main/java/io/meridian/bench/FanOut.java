package io.meridian.bench;

import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The watch fan-out row of {@link CompareEtcd}: {@code streams} watch streams spread over the
 * members, each with {@code watchesPerStream} watches of one prefix, and a put that counts as done
 * when its write has been acknowledged and every watch has seen its key. Its latency is therefore
 * from the put's start to the last watcher's event.
 */
final class FanOut implements AutoCloseable {
  private final Subject subject;
  private final String prefix;
  private final int watchers;
  private final List<AutoCloseable> streams = new ArrayList<>();
  private final Map<String, Pending> pending = new ConcurrentHashMap<>();
  private final AtomicLong sequence = new AtomicLong();

  private record Pending(AtomicInteger unseen, CompletableFuture<Void> seen) {}

  private FanOut(Subject subject, String prefix, int watchers) {
    this.subject = subject;
    this.prefix = prefix;
    this.watchers = watchers;
  }

  /** Opens the streams (stream i on member i mod 3) and waits until every watch is created. */
  static FanOut open(Subject subject, String prefix, int streams, int watchesPerStream) {
    FanOut f = new FanOut(subject, prefix, streams * watchesPerStream);
    try {
      for (int i = 0; i < streams; i++) {
        f.streams.add(Endpoints.await(subject.watch(i % 3, prefix, watchesPerStream, f::saw)));
      }
    } catch (RuntimeException e) {
      f.close();
      throw e;
    }
    return f;
  }

  /** Puts a new key under the prefix through member {@code m}; done when every watch saw it. */
  CompletableFuture<?> put(int m, ByteString value) {
    String key = prefix + sequence.getAndIncrement();
    Pending p = new Pending(new AtomicInteger(watchers), new CompletableFuture<>());
    pending.put(key, p);
    return CompletableFuture.allOf(
            subject.put(m, key, value),
            p.seen().orTimeout(Subject.TIMEOUT.toSeconds(), TimeUnit.SECONDS))
        .whenComplete((r, e) -> pending.remove(key));
  }

  private void saw(String key) {
    Pending p = pending.get(key);
    if (p != null && p.unseen().decrementAndGet() == 0) {
      p.seen().complete(null);
    }
  }

  @Override
  public void close() {
    for (AutoCloseable s : streams) {
      try {
        s.close();
      } catch (Exception e) {
        // The stream failed already; nothing else holds it.
      }
    }
  }
}
