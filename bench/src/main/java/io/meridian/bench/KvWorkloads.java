package io.meridian.bench;

import com.google.protobuf.ByteString;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Workloads 1 to 3: puts of {@code valueSize}-byte values to keys {@code /bench/k<n>} ({@code n} =
 * sequence number modulo {@link #KEYS}) in a closed and an open loop, and ranges of one key.
 */
final class KvWorkloads {
  /** Puts cycle over this many keys, so state stays bounded however long the run. */
  static final int KEYS = 10_000;

  static final int[] PUT_CONCURRENCY = {1, 16, 128};
  static final int RANGE_CONCURRENCY = 16;
  static final String RANGE_KEY = "/bench/k0";

  private final Endpoints endpoints;
  private final LoadDriver driver;
  private final ByteString value;
  private final AtomicLong sequence = new AtomicLong();

  KvWorkloads(Endpoints endpoints, LoadDriver driver, int valueSize, Random random) {
    this.endpoints = endpoints;
    this.driver = driver;
    byte[] bytes = new byte[valueSize];
    random.nextBytes(bytes);
    this.value = ByteString.copyFrom(bytes);
  }

  /** Workload 1: closed-loop puts at each of {@link #PUT_CONCURRENCY}. */
  List<Result> closedPuts() throws InterruptedException {
    List<Result> results = new ArrayList<>();
    for (int concurrency : PUT_CONCURRENCY) {
      results.add(Bench.progress(driver.closed("put", concurrency, w -> put())));
    }
    return results;
  }

  /** Workload 2: puts on a fixed schedule at {@code rate} per second. */
  Result openPuts(double rate) throws InterruptedException {
    return Bench.progress(driver.open("put (open loop)", rate, i -> put()));
  }

  /** Workload 3: ranges of {@link #RANGE_KEY}, LINEARIZABLE then SERIALIZABLE. */
  List<Result> ranges() throws InterruptedException {
    Endpoints.await(
        Endpoints.call(
            endpoints.next().kv()::put,
            PutRequest.newBuilder().setKey(RANGE_KEY).setValue(value).build()));
    List<Result> results = new ArrayList<>();
    for (Consistency consistency : List.of(Consistency.LINEARIZABLE, Consistency.SERIALIZABLE)) {
      RangeRequest request =
          RangeRequest.newBuilder().setKey(RANGE_KEY).setConsistency(consistency).build();
      results.add(
          Bench.progress(
              driver.closed(
                  "range " + consistency,
                  RANGE_CONCURRENCY,
                  w -> Endpoints.call(endpoints.next().kv()::range, request))));
    }
    return results;
  }

  /** One put to the next key, on the next node. */
  CompletableFuture<?> put() {
    long n = Math.floorMod(sequence.getAndIncrement(), (long) KEYS);
    PutRequest request = PutRequest.newBuilder().setKey("/bench/k" + n).setValue(value).build();
    return Endpoints.call(endpoints.next().kv()::put, request);
  }
}
