package io.meridian.ctl;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.OperationStep;
import io.meridian.api.v1.RecordOperationRequest;
import io.meridian.api.v1.RecordOperationRequest.Action;
import io.meridian.api.v1.RecordOperationResponse;
import io.meridian.router.RoutingTable;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One run of a region operation (failover, switchover, rejoin), recorded in the cluster it acts on
 * ({@code Cluster/RecordOperation}): it opens the operation or resumes the open one, runs each step
 * not yet done and records it, and holds the record while it runs (renewed in the background), so
 * that a second run is refused and a rerun after this one stopped resumes at the first step not
 * done.
 */
final class RegionOperation implements AutoCloseable {
  /** How long the record stays this run's without a renewal; renewed every third of it. */
  static final Duration HOLD = Duration.ofSeconds(15);

  private final ShardRegions regions;
  private final RoutingTable.Region recordedIn;
  private final String holder;
  private final PrintWriter out;
  private final ScheduledExecutorService renewals;
  private volatile Operation operation;
  private boolean finished;
  private int stepNumber;
  private final int steps;

  private RegionOperation(
      ShardRegions regions,
      RoutingTable.Region recordedIn,
      String holder,
      PrintWriter out,
      Operation operation,
      int steps) {
    this.regions = regions;
    this.recordedIn = recordedIn;
    this.holder = holder;
    this.out = out;
    this.operation = operation;
    this.steps = steps;
    this.renewals =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "meridianctl-operation-hold");
              t.setDaemon(true);
              return t;
            });
    long every = HOLD.toMillis() / 3;
    renewals.scheduleAtFixedRate(this::renew, every, every, TimeUnit.MILLISECONDS);
  }

  /** The operation open in {@code in}, if any (nothing is changed). */
  static RecordOperationResponse read(ShardRegions regions, RoutingTable.Region in) {
    return regions.cluster(
        in,
        s -> s.recordOperation(RecordOperationRequest.newBuilder().setAction(Action.READ).build()));
  }

  /**
   * Refuses when a region of the shard other than {@code in} records an open operation: a failover
   * or switchover to another region is recorded there, so {@code in}'s own record would not see it.
   * Regions that do not answer are passed over (a lost region runs nothing).
   *
   * @throws MeridianException FAILED_PRECONDITION naming the open operation and where it is
   */
  static void requireNoneElsewhere(ShardRegions regions, RoutingTable.Region in) {
    for (RoutingTable.Region other : regions.described().regions()) {
      if (other.region().equals(in.region())) {
        continue;
      }
      RecordOperationResponse r;
      try {
        r = read(regions, other);
      } catch (MeridianException e) {
        continue;
      }
      if (r.hasOpen()) {
        throw MeridianException.of(
            Error.Code.FAILED_PRECONDITION,
            "%s is open (recorded in %s, by %s): finish it by running it again, or abandon it once"
                + " its run stopped, before another operation on shard %d",
            describe(r.getOpen()),
            other.region(),
            r.getOpen().getHolder(),
            regions.shard);
      }
    }
  }

  /**
   * Opens {@code wanted} (kind, regions, epoch) in {@code in}'s cluster, or resumes the open
   * operation of the same kind and regions; prints which.
   *
   * @param steps how many steps the operation has, for the "[n/N]" prefix
   * @throws MeridianException FAILED_PRECONDITION when another run holds an operation of the shard
   *     or another operation is open
   */
  static RegionOperation begin(
      ShardRegions regions, RoutingTable.Region in, Operation wanted, int steps, PrintWriter out) {
    requireNoneElsewhere(regions, in);
    String holder = holder();
    Operation asked = wanted.toBuilder().setId(wanted.getKind() + "-" + shortId()).build();
    RecordOperationResponse r = record(regions, in, Action.BEGIN, asked, holder, null, "");
    Operation open = r.getOpen();
    if (open.getStepsCount() > 0 || !open.getId().equals(asked.getId())) {
      out.println(
          "resuming "
              + describe(open)
              + ", begun by "
              + (open.getStepsCount() > 0 ? "an earlier run" : "another run")
              + " ("
              + open.getStepsCount()
              + " of "
              + steps
              + " steps done)");
    } else {
      out.println("began " + describe(open) + ", recorded in " + in.region());
    }
    out.flush();
    return new RegionOperation(regions, in, holder, out, open, steps);
  }

  Operation operation() {
    return operation;
  }

  /** A fact an earlier step (of this run or an earlier one) recorded, or null. */
  String fact(String name) {
    return operation.getFactsMap().get(name);
  }

  /** What a step did: one line for the operator, and facts for later steps and reruns. */
  record Done(String result, Map<String, String> facts) {
    Done(String result) {
      this(result, Map.of());
    }
  }

  /**
   * Runs step {@code name} unless it is recorded as done, then records it; prints "[n/N] name:
   * result" either way.
   */
  void step(String name, Supplier<Done> body) {
    stepNumber++;
    String prefix = "[" + stepNumber + "/" + steps + "] " + name + ": ";
    for (OperationStep done : operation.getStepsList()) {
      if (done.getName().equals(name)) {
        out.println(prefix + done.getResult() + " (done earlier)");
        out.flush();
        return;
      }
    }
    Done done;
    try {
      done = body.get();
    } catch (MeridianException e) {
      out.println(prefix + "FAILED: " + e.code() + ": " + e.getMessage());
      out.flush();
      throw MeridianException.of(
          e.code(),
          "%s stopped at step %s: %s (run the same command again to resume from this step)",
          describe(operation),
          name,
          e.getMessage());
    }
    RecordOperationResponse r =
        record(
            regions,
            recordedIn,
            Action.STEP,
            operation.toBuilder().clearFacts().putAllFacts(done.facts()).build(),
            holder,
            OperationStep.newBuilder().setName(name).setResult(done.result()).build(),
            "");
    operation = r.getOpen();
    out.println(prefix + done.result());
    out.flush();
  }

  /** Closes the operation as {@code outcome} (done or aborted). */
  void finish(String outcome) {
    record(regions, recordedIn, Action.FINISH, operation, holder, null, outcome);
    finished = true;
  }

  /** Closes an open operation whose run stopped, as abandoned. */
  static void abandon(ShardRegions regions, RoutingTable.Region in, Operation open) {
    record(regions, in, Action.ABANDON, open, holder(), null, "");
  }

  private void renew() {
    try {
      operation = record(regions, recordedIn, Action.BEGIN, operation, holder, null, "").getOpen();
    } catch (RuntimeException e) {
      // The next renewal, or the next step, tries again; a step fails if the hold was lost.
    }
  }

  /**
   * Stops renewing; an operation left unfinished (a step failed) is let go at once, so that a rerun
   * resumes it without waiting for the hold to lapse.
   */
  @Override
  public void close() {
    renewals.shutdownNow();
    if (!finished) {
      try {
        record(regions, recordedIn, Action.BEGIN, operation, holder, null, "", 1);
      } catch (RuntimeException e) {
        // Not let go: the hold lapses by itself within HOLD.
      }
    }
  }

  private static RecordOperationResponse record(
      ShardRegions regions,
      RoutingTable.Region in,
      Action action,
      Operation operation,
      String holder,
      OperationStep step,
      String outcome) {
    return record(regions, in, action, operation, holder, step, outcome, HOLD.toMillis());
  }

  private static RecordOperationResponse record(
      ShardRegions regions,
      RoutingTable.Region in,
      Action action,
      Operation operation,
      String holder,
      OperationStep step,
      String outcome,
      long holdMs) {
    RecordOperationRequest.Builder b =
        RecordOperationRequest.newBuilder()
            .setAction(action)
            .setOperation(operation)
            .setHolder(holder)
            .setHoldMs(holdMs)
            .setOutcome(outcome);
    if (step != null) {
      b.setStep(step);
    }
    return regions.cluster(in, s -> s.recordOperation(b.build()));
  }

  static String describe(Operation o) {
    return o.getKind()
        + " "
        + o.getId()
        + " of shard "
        + o.getShard()
        + (o.getFromRegion().isEmpty() ? "" : " from " + o.getFromRegion())
        + " to "
        + o.getToRegion()
        + " at epoch "
        + o.getEpoch();
  }

  /** Who runs this: user@host, as the record and the nodes' logs name the operator. */
  static String holder() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      host = "unknown-host";
    }
    return System.getProperty("user.name", "unknown")
        + "@"
        + host
        + ":"
        + ProcessHandle.current().pid();
  }

  private static String shortId() {
    return UUID.randomUUID().toString().substring(0, 8);
  }

  /** Refuses to go on when {@code condition} is false. */
  static void require(boolean condition, String format, Object... args) {
    if (!condition) {
      throw MeridianException.of(Error.Code.FAILED_PRECONDITION, format, args);
    }
  }
}
