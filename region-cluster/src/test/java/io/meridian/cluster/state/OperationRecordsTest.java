package io.meridian.cluster.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.api.v1.Error;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.OperationStep;
import io.meridian.api.v1.RecordOperationRequest;
import io.meridian.api.v1.RecordOperationRequest.Action;
import io.meridian.api.v1.RecordOperationResponse;
import io.meridian.cluster.internal.ApplyResult;
import io.meridian.cluster.proto.Command;
import org.junit.jupiter.api.Test;

/**
 * The record of a region operation: one open per shard, resumed by a rerun, refused to a second
 * concurrent run, kept across snapshots; the time is the command's.
 */
class OperationRecordsTest {
  private static final long HOLD = 10_000;
  private final Shard standby = Shard.standby();

  private static Operation failover(String id, String to) {
    return Operation.newBuilder()
        .setId(id)
        .setKind("failover")
        .setFromRegion("east")
        .setToRegion(to)
        .setEpoch(2)
        .build();
  }

  private ApplyResult record(Action action, Operation op, String holder, String step) {
    RecordOperationRequest.Builder r =
        RecordOperationRequest.newBuilder()
            .setAction(action)
            .setOperation(op)
            .setHolder(holder)
            .setHoldMs(HOLD);
    if (step != null) {
      r.setStep(OperationStep.newBuilder().setName(step).setResult(step + " ok"));
    }
    if (action == Action.FINISH) {
      r.setOutcome("done");
    }
    return standby.apply(Command.newBuilder().setRecordOperation(r));
  }

  private RecordOperationResponse ok(ApplyResult r) {
    return standby.ok(r).result().getRecordOperation();
  }

  @Test
  void aRunRecordsItsStepsOnceAndFinishes() {
    long revision = standby.state.revision();
    RecordOperationResponse begun =
        ok(record(Action.BEGIN, failover("f1", "west"), "ann@h1", null));
    assertThat(begun.getOpen().getShard()).isEqualTo(Shard.SHARD);
    assertThat(begun.getOpen().getHeldUntilMs()).isEqualTo(standby.now + HOLD);
    ok(record(Action.STEP, failover("f1", "west"), "ann@h1", "detect"));
    standby.now += 100;
    RecordOperationResponse again =
        ok(record(Action.STEP, failover("f1", "west"), "ann@h1", "detect"));
    assertThat(again.getOpen().getStepsList())
        .extracting(OperationStep::getName)
        .containsExactly("detect");
    assertThat(again.getOpen().getSteps(0).getDoneMs()).isEqualTo(standby.now - 100);
    RecordOperationResponse done =
        ok(record(Action.FINISH, failover("f1", "west"), "ann@h1", null));
    assertThat(done.hasOpen()).isFalse();
    assertThat(done.getFinished(0).getOutcome()).isEqualTo("done");
    // A retried FINISH is acknowledged; metadata only: no revision.
    ok(record(Action.FINISH, failover("f1", "west"), "ann@h1", null));
    assertThat(standby.state.revision()).isEqualTo(revision);
  }

  @Test
  void aSecondRunIsRefusedWhileTheFirstHoldsTheRecordAndResumesOnceItLapsed() {
    ok(record(Action.BEGIN, failover("f1", "west"), "ann@h1", null));
    ok(record(Action.STEP, failover("f1", "west"), "ann@h1", "detect"));
    ApplyResult second = record(Action.BEGIN, failover("f2", "west"), "bob@h2", null);
    assertThat(Shard.code(second)).isEqualTo(Error.Code.FAILED_PRECONDITION);
    assertThat(second.result().getError().getMessage())
        .contains("failover f1 of shard 3 from east to west", "is running", "by ann@h1", "detect");

    standby.now += HOLD + 1;
    RecordOperationResponse resumed =
        ok(record(Action.BEGIN, failover("f2", "west"), "bob@h2", null));
    assertThat(resumed.getOpen().getId()).isEqualTo("f1");
    assertThat(resumed.getOpen().getHolder()).isEqualTo("bob@h2");
    assertThat(resumed.getOpen().getStepsList())
        .extracting(OperationStep::getName)
        .containsExactly("detect");
    // The first run, back, learns it was taken over and stops.
    ApplyResult stale = record(Action.STEP, failover("f1", "west"), "ann@h1", "decide");
    assertThat(Shard.code(stale)).isEqualTo(Error.Code.FAILED_PRECONDITION);
    assertThat(stale.result().getError().getMessage()).contains("taken over by bob@h2");
  }

  @Test
  void anotherOperationIsRefusedUntilTheOpenOneIsFinishedOrAbandoned() {
    ok(record(Action.BEGIN, failover("f1", "west"), "ann@h1", null));
    standby.now += HOLD + 1;
    ApplyResult other = record(Action.BEGIN, failover("f2", "south"), "bob@h2", null);
    assertThat(Shard.code(other)).isEqualTo(Error.Code.FAILED_PRECONDITION);
    assertThat(other.result().getError().getMessage()).contains("is open", "abandon");
    RecordOperationResponse abandoned =
        ok(record(Action.ABANDON, failover("f1", "west"), "bob@h2", null));
    assertThat(abandoned.getFinished(0).getOutcome()).isEqualTo("abandoned");
    ok(record(Action.BEGIN, failover("f2", "south"), "bob@h2", null));
  }

  @Test
  void theRecordSurvivesASnapshotAndBadRequestsChangeNothing() {
    ok(record(Action.BEGIN, failover("f1", "west"), "ann@h1", null));
    ok(
        standby.apply(
            Command.newBuilder()
                .setRecordOperation(
                    RecordOperationRequest.newBuilder()
                        .setAction(Action.STEP)
                        .setOperation(
                            failover("f1", "west").toBuilder()
                                .putFacts("old_primary_fenced", "false"))
                        .setHolder("ann@h1")
                        .setHoldMs(HOLD)
                        .setStep(OperationStep.newBuilder().setName("fence")))));
    Operation before = ok(record(Action.READ, Operation.getDefaultInstance(), "", null)).getOpen();
    ShardState copy = standby.reloaded();
    assertThat(copy.openOperation()).contains(before);
    assertThat(before.getFactsMap()).containsEntry("old_primary_fenced", "false");

    assertThat(Shard.code(record(Action.BEGIN, failover("", "west"), "ann@h1", null)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(
            Shard.code(
                record(
                    Action.BEGIN,
                    failover("f9", "west").toBuilder().setKind("move").build(),
                    "x",
                    null)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(Shard.code(record(Action.STEP, failover("f1", "west"), "", "decide")))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(Shard.code(record(Action.ACTION_UNSPECIFIED, failover("f1", "west"), "x", null)))
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
    assertThat(ok(record(Action.READ, Operation.getDefaultInstance(), "", null)).getOpen())
        .isEqualTo(before);
  }
}
