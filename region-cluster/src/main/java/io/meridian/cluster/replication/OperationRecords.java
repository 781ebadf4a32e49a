package io.meridian.cluster.replication;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.OperationStep;
import io.meridian.api.v1.RecordOperationRequest;
import io.meridian.api.v1.RecordOperationResponse;
import io.meridian.cluster.internal.StateCore;
import io.meridian.cluster.proto.CommandResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The record of a region operation (failover, switchover, rejoin) of this shard, kept in the
 * cluster's log so that any operator's rerun resumes from the steps done and a second run is
 * refused while the first holds the record.
 *
 * <p>A run holds the open operation for {@code hold_ms} and renews the hold with every step; a
 * rerun of the same kind between the same regions takes over an operation whose hold lapsed (its
 * run stopped), keeping its id, epoch, steps and facts. The time is the command's, stamped by the
 * leader, so every member decides alike.
 */
public final class OperationRecords {
  /** Finished operations kept for status and audit, newest first. */
  static final int FINISHED_KEPT = 8;

  static final long MAX_HOLD_MS = 600_000;
  private static final Set<String> KINDS = Set.of("failover", "switchover", "rejoin");
  private static final Set<String> OUTCOMES = Set.of("done", "aborted");

  private final StateCore core;

  public OperationRecords(StateCore core) {
    this.core = core;
  }

  /** Applies {@code req} at the leader's time {@code nowMs}; see {@link RecordOperationRequest}. */
  public CommandResult apply(RecordOperationRequest req, long nowMs) {
    switch (req.getAction()) {
      case READ -> {}
      case BEGIN -> begin(req, nowMs);
      case STEP -> step(req, nowMs);
      case FINISH -> finish(req, req.getOutcome(), nowMs);
      case ABANDON -> abandon(req, nowMs);
      default ->
          throw MeridianException.of(
              Error.Code.INVALID_ARGUMENT,
              "action: %s (expected: READ, BEGIN, STEP, FINISH or ABANDON)",
              req.getAction());
    }
    RecordOperationResponse.Builder out =
        RecordOperationResponse.newBuilder()
            .setHeader(core.header())
            .addAllFinished(core.finishedOperations());
    if (core.openOperation() != null) {
      out.setOpen(core.openOperation());
    }
    return CommandResult.newBuilder().setRecordOperation(out).build();
  }

  private void begin(RecordOperationRequest req, long nowMs) {
    Operation asked = req.getOperation();
    checkHolder(req);
    if (!KINDS.contains(asked.getKind())) {
      throw invalid(
          "operation.kind: %s (expected: failover, switchover or rejoin)", asked.getKind());
    }
    if (asked.getId().isEmpty() || asked.getToRegion().isEmpty()) {
      throw invalid("operation: id and to_region are required");
    }
    Operation open = core.openOperation();
    if (open == null) {
      if (finished(asked.getId()) != null) {
        throw MeridianException.of(
            Error.Code.FAILED_PRECONDITION,
            "%s: finished already (%s)",
            describe(finished(asked.getId())),
            finished(asked.getId()).getOutcome());
      }
      core.setOpenOperation(
          asked.toBuilder()
              .setShard(core.shard())
              .clearSteps()
              .clearFinishedMs()
              .clearOutcome()
              .setHolder(req.getHolder())
              .setHeldUntilMs(nowMs + req.getHoldMs())
              .setStartedMs(nowMs)
              .build());
      return;
    }
    boolean same = open.getId().equals(asked.getId());
    boolean rerun =
        open.getKind().equals(asked.getKind())
            && open.getFromRegion().equals(asked.getFromRegion())
            && open.getToRegion().equals(asked.getToRegion());
    if (!same && !rerun) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "%s is open (%s): finish it by running it again, or abandon it once its run stopped",
          describe(open),
          progress(open, nowMs));
    }
    if (!open.getHolder().equals(req.getHolder()) && open.getHeldUntilMs() > nowMs) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "%s is running (%s): a second run is refused; if that run stopped, run again in %d ms to"
              + " resume it",
          describe(open),
          progress(open, nowMs),
          open.getHeldUntilMs() - nowMs);
    }
    core.setOpenOperation(
        open.toBuilder()
            .setHolder(req.getHolder())
            .setHeldUntilMs(nowMs + req.getHoldMs())
            .build());
  }

  private void step(RecordOperationRequest req, long nowMs) {
    checkHolder(req);
    Operation open = held(req, nowMs);
    if (req.getStep().getName().isEmpty()) {
      throw invalid("step.name: empty (expected: the step's name)");
    }
    Operation.Builder b =
        open.toBuilder()
            .putAllFacts(req.getOperation().getFactsMap())
            .setHeldUntilMs(nowMs + req.getHoldMs());
    boolean done =
        open.getStepsList().stream().anyMatch(s -> s.getName().equals(req.getStep().getName()));
    if (!done) {
      b.addSteps(req.getStep().toBuilder().setDoneMs(nowMs));
    }
    core.setOpenOperation(b.build());
  }

  private void finish(RecordOperationRequest req, String outcome, long nowMs) {
    Operation open = core.openOperation();
    String id = req.getOperation().getId();
    if ((open == null || !open.getId().equals(id)) && finished(id) != null) {
      return; // Finished already: a retried FINISH.
    }
    if (!outcome.equals("abandoned") && !OUTCOMES.contains(outcome)) {
      throw invalid("outcome: %s (expected: done or aborted)", outcome);
    }
    if (!outcome.equals("abandoned")) {
      held(req, nowMs);
    } else if (open == null || !open.getId().equals(id)) {
      throw notOpen(id, open, nowMs);
    }
    List<Operation> finished = new ArrayList<>(FINISHED_KEPT);
    finished.add(open.toBuilder().setFinishedMs(nowMs).setOutcome(outcome).build());
    core.finishedOperations().stream().limit(FINISHED_KEPT - 1).forEach(finished::add);
    core.setOpenOperation(null);
    core.setFinishedOperations(finished);
  }

  private void abandon(RecordOperationRequest req, long nowMs) {
    checkHolder(req);
    Operation open = core.openOperation();
    if (open != null
        && open.getId().equals(req.getOperation().getId())
        && !open.getHolder().equals(req.getHolder())
        && open.getHeldUntilMs() > nowMs) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "%s is running (%s): it can be abandoned once its run stopped (in %d ms)",
          describe(open),
          progress(open, nowMs),
          open.getHeldUntilMs() - nowMs);
    }
    finish(req, "abandoned", nowMs);
  }

  /** The open operation {@code req} names, held by {@code req}'s holder. */
  private Operation held(RecordOperationRequest req, long nowMs) {
    Operation open = core.openOperation();
    String id = req.getOperation().getId();
    if (open == null || !open.getId().equals(id)) {
      throw notOpen(id, open, nowMs);
    }
    if (!open.getHolder().equals(req.getHolder())) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "%s was taken over by %s: this run stops",
          describe(open),
          open.getHolder());
    }
    return open;
  }

  private MeridianException notOpen(String id, Operation open, long nowMs) {
    return MeridianException.of(
        Error.Code.FAILED_PRECONDITION,
        "operation %s: not open (%s)",
        id,
        open == null ? "no operation is open" : describe(open) + " is: " + progress(open, nowMs));
  }

  private void checkHolder(RecordOperationRequest req) {
    if (req.getHolder().isEmpty()) {
      throw invalid("holder: empty (expected: who runs the operation, e.g. user@host)");
    }
    if (req.getHoldMs() < 1 || req.getHoldMs() > MAX_HOLD_MS) {
      throw invalid("hold_ms: %d (expected: 1..%d)", req.getHoldMs(), MAX_HOLD_MS);
    }
  }

  private Operation finished(String id) {
    return core.finishedOperations().stream()
        .filter(o -> o.getId().equals(id))
        .findFirst()
        .orElse(null);
  }

  /** "failover f-1 of shard 0 from east to west (epoch 2)". */
  public static String describe(Operation o) {
    return o.getKind()
        + " "
        + o.getId()
        + " of shard "
        + o.getShard()
        + (o.getFromRegion().isEmpty() ? "" : " from " + o.getFromRegion())
        + " to "
        + o.getToRegion()
        + " (epoch "
        + o.getEpoch()
        + ")";
  }

  private static String progress(Operation o, long nowMs) {
    String steps =
        o.getStepsCount() == 0
            ? "no step done"
            : "done: "
                + o.getStepsList().stream()
                    .map(OperationStep::getName)
                    .collect(Collectors.joining(", "));
    long left = o.getHeldUntilMs() - nowMs;
    return "by "
        + o.getHolder()
        + ", "
        + steps
        + (left > 0 ? ", held for another " + left + " ms" : ", hold lapsed");
  }

  private static MeridianException invalid(String format, Object... args) {
    return MeridianException.of(Error.Code.INVALID_ARGUMENT, format, args);
  }
}
