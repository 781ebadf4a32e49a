package io.meridian.testing.chaos;

import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.ErrorCodes;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.PutResponse;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.TxnRequest;
import io.meridian.api.v1.TxnResponse;
import io.meridian.testing.ProcessRegion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Clients reading, writing and compare-and-setting a few keys (registers) through every member of a
 * region and its router ({@link Endpoints}), each with one operation in flight, recording a {@link
 * History} for {@link Linearizability} and the acknowledged writes for {@link Durability}. Reads
 * are {@code LINEARIZABLE}; a compare-and-set is a transaction comparing the value. A key takes a
 * bounded number of operations and is then replaced by a fresh one, so that the checker's search
 * stays small however long the run.
 */
public final class RegisterWorkload implements Workload {
  /** Operations on one key before it is retired. */
  static final int OPERATIONS_PER_KEY = 60;

  /**
   * Indeterminate operations on one key before it is retired: each stays open to the end of the
   * history and doubles the checker's search.
   */
  static final int UNKNOWN_PER_KEY = 3;

  private static final Set<Error.Code> REFUSED =
      Set.of(
          Error.Code.INVALID_ARGUMENT,
          Error.Code.KEY_TOO_LARGE,
          Error.Code.VALUE_TOO_LARGE,
          Error.Code.REQUEST_TOO_LARGE,
          Error.Code.RESERVED_KEY,
          Error.Code.NOT_PRIMARY,
          Error.Code.FENCED,
          Error.Code.NO_SPACE,
          Error.Code.NOT_INITIALIZED);

  private final Endpoints endpoints;
  private final long seed;
  private final int clients;
  private final int keys;
  private final Duration timeout;
  private final History history = new History();
  private final List<Durability.Write> acknowledged = new CopyOnWriteArrayList<>();
  private final AtomicIntegerArray uses;
  private final AtomicIntegerArray unknown;
  private final AtomicIntegerArray generations;
  private final Clients running = new Clients("register-client");

  /**
   * {@code clients} clients on {@code keys} keys at a time, their choices seeded from {@code seed},
   * each operation given {@code timeout} before it is recorded as indeterminate.
   */
  public RegisterWorkload(Endpoints endpoints, long seed, int clients, int keys, Duration timeout) {
    this.endpoints = endpoints;
    this.seed = seed;
    this.clients = clients;
    this.keys = keys;
    this.timeout = timeout;
    this.uses = new AtomicIntegerArray(keys);
    this.unknown = new AtomicIntegerArray(keys);
    this.generations = new AtomicIntegerArray(keys);
  }

  @Override
  public String name() {
    return "register";
  }

  @Override
  public void start() {
    running.start(clients, this::run);
  }

  @Override
  public void stop() throws InterruptedException {
    running.stop();
  }

  @Override
  public boolean servedSince(long nanos) {
    return history.operations().stream()
        .anyMatch(
            op ->
                op.invoked() > nanos
                    && op.kind() != Operation.Kind.READ
                    && op.outcome() == Operation.Outcome.OK);
  }

  @Override
  public int operations() {
    return history.operations().size();
  }

  public History history() {
    return history;
  }

  /** Every write (or compare-and-set) acknowledged, with the revision it was given. */
  public List<Durability.Write> acknowledged() {
    return List.copyOf(acknowledged);
  }

  /** Linearizability of the history, and every acknowledged write on every member. */
  @Override
  public List<Verdict> check(ChaosRegion region, Nemesis nemesis) {
    return List.of(
        Linearizability.check(history.operations()),
        Durability.check(acknowledged(), stores(region.nodes())));
  }

  @Override
  public void write(Path dir) throws IOException {
    history.write(dir.resolve("history.txt"));
    Files.write(
        dir.resolve("acknowledged.txt"), acknowledged().stream().map(Object::toString).toList());
  }

  /** Every member's store, once it has applied the last acknowledged write. */
  private Map<String, Durability.Store> stores(ProcessRegion nodes) {
    long last = acknowledged.stream().mapToLong(Durability.Write::revision).max().orElse(0);
    Map<String, Durability.Store> stores = new LinkedHashMap<>();
    for (int i = 0; i < nodes.size(); i++) {
      int member = i;
      await("n" + (member + 1) + " applies revision " + last)
          .atMost(Duration.ofSeconds(120))
          .ignoreExceptions()
          .until(
              () ->
                  nodes
                          .kv(member)
                          .withDeadlineAfter(5, TimeUnit.SECONDS)
                          .range(
                              RangeRequest.newBuilder()
                                  .setKey("/chaos/")
                                  .setCountOnly(true)
                                  .setConsistency(Consistency.SERIALIZABLE)
                                  .build())
                          .getHeader()
                          .getRevision()
                      >= last);
      stores.put("n" + (member + 1), Durability.Store.of(nodes.kv(member)));
    }
    return stores;
  }

  private void run(int client) {
    Random random = new Random(seed * 31 + client);
    Map<String, String> known = new HashMap<>();
    int sequence = 0;
    while (!running.stopped()) {
      int slot = random.nextInt(keys);
      String key = key(slot);
      int member = random.nextInt(endpoints.count());
      int dice = random.nextInt(10);
      String mine = "c" + client + "-" + sequence++;
      if (dice < 4) {
        read(client, member, key, known);
      } else if (dice < 7 || known.get(key) == null) {
        write(client, member, key, mine, known);
      } else {
        cas(client, member, key, known.get(key), mine, known);
      }
      retireIfSpent(slot);
    }
  }

  private synchronized void retireIfSpent(int slot) {
    if (uses.incrementAndGet(slot) >= OPERATIONS_PER_KEY || unknown.get(slot) >= UNKNOWN_PER_KEY) {
      uses.set(slot, 0);
      unknown.set(slot, 0);
      generations.incrementAndGet(slot);
    }
  }

  private String key(int slot) {
    return "/chaos/k" + slot + "g" + generations.get(slot);
  }

  private void read(int client, int member, String key, Map<String, String> known) {
    long invoked = history.now();
    try {
      RangeResponse r =
          endpoints
              .kv(member)
              .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .range(
                  RangeRequest.newBuilder()
                      .setKey(key)
                      .setConsistency(Consistency.LINEARIZABLE)
                      .build());
      String value = r.getKvsCount() == 0 ? null : r.getKvs(0).getValue().toStringUtf8();
      history.record(client, Operation.Kind.READ, key, value, null, invoked, Operation.Outcome.OK);
      known.put(key, value);
    } catch (StatusRuntimeException e) {
      // A read that failed observed nothing and changed nothing.
      backOff();
    }
  }

  private void write(int client, int member, String key, String value, Map<String, String> known) {
    long invoked = history.now();
    try {
      PutResponse r =
          endpoints
              .kv(member)
              .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .put(
                  PutRequest.newBuilder()
                      .setKey(key)
                      .setValue(ByteString.copyFromUtf8(value))
                      .build());
      history.record(client, Operation.Kind.WRITE, key, value, null, invoked, Operation.Outcome.OK);
      acknowledged.add(new Durability.Write(key, value, r.getHeader().getRevision()));
      known.put(key, value);
    } catch (StatusRuntimeException e) {
      failed(client, Operation.Kind.WRITE, key, value, null, invoked, e);
      known.remove(key);
      backOff();
    }
  }

  private void cas(
      int client,
      int member,
      String key,
      String expected,
      String value,
      Map<String, String> known) {
    long invoked = history.now();
    try {
      TxnResponse r =
          endpoints
              .kv(member)
              .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
              .txn(
                  TxnRequest.newBuilder()
                      .addCompare(
                          Compare.newBuilder()
                              .setKey(key)
                              .setTarget(Compare.Target.VALUE)
                              .setResult(Compare.Result.EQUAL)
                              .setValue(ByteString.copyFromUtf8(expected)))
                      .addSuccess(
                          RequestOp.newBuilder()
                              .setRequestPut(
                                  PutRequest.newBuilder()
                                      .setKey(key)
                                      .setValue(ByteString.copyFromUtf8(value))))
                      .build());
      if (r.getSucceeded()) {
        history.record(
            client, Operation.Kind.CAS, key, value, expected, invoked, Operation.Outcome.OK);
        acknowledged.add(new Durability.Write(key, value, r.getHeader().getRevision()));
        known.put(key, value);
      } else {
        history.record(
            client, Operation.Kind.CAS, key, value, expected, invoked, Operation.Outcome.FAILED);
        known.remove(key);
      }
    } catch (StatusRuntimeException e) {
      failed(client, Operation.Kind.CAS, key, value, expected, invoked, e);
      known.remove(key);
      backOff();
    }
  }

  /**
   * After a failure, a short pause: a member that is down answers at once, and clients spinning on
   * it would starve the members restarting on the same cores.
   */
  private void backOff() {
    running.pause(50);
  }

  /**
   * A write whose answer is an error: refused outright (nothing was proposed) it is left out of the
   * history; otherwise it may have been applied, and is recorded as indeterminate.
   */
  private void failed(
      int client,
      Operation.Kind kind,
      String key,
      String value,
      String expected,
      long invoked,
      StatusRuntimeException e) {
    Error error = ErrorCodes.errorOf(e);
    if (error != null && REFUSED.contains(error.getCode())) {
      return;
    }
    history.record(client, kind, key, value, expected, invoked, Operation.Outcome.UNKNOWN);
    // Keys are /chaos/k<slot>g<generation>.
    unknown.incrementAndGet(Integer.parseInt(key.substring(8, key.indexOf('g', 8))));
  }
}
