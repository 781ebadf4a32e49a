package io.meridian.ctl;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.bridge.BridgeConfig;
import io.meridian.bridge.ChangeArchive;
import io.meridian.cluster.backup.RestoredMember;
import io.meridian.cluster.backup.SnapshotFile;
import io.meridian.cluster.state.ShardState;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl restore}: a point-in-time restore of one shard from a snapshot file and the
 * shard's change topic (see {@link PointInTimeRestore}).
 */
@Command(
    name = "restore",
    mixinStandardHelpOptions = true,
    description = {
      "Point-in-time restore of the shard --shard names: verifies the snapshot file, reads the"
          + " shard's change topic (read_committed) and applies the revisions after the"
          + " snapshot's up to --to-revision, or up to the last one committed at or before"
          + " --to-time, with a standby's checks on every batch (no revision missing, the chain"
          + " hash extended, epochs only forward).",
      "--dry-run prints the plan and the state it reaches (key count, state hash) and writes"
          + " nothing. Otherwise it writes one member's data directory of a new cluster (as"
          + " snapshot restore does): run it once per member with the same options but"
          + " --data-dir and --member. The restored state keeps the snapshot's role."
    })
final class RestoreCommand implements Callable<Integer> {
  @ParentCommand Meridianctl root;
  @Spec CommandSpec spec;

  @ArgGroup(exclusive = true, multiplicity = "1")
  TargetOption target;

  static final class TargetOption {
    @Option(
        names = "--to-revision",
        paramLabel = "R",
        required = true,
        description = "Restore the shard as it was at revision R.")
    Long revision;

    @Option(
        names = "--to-time",
        paramLabel = "T",
        required = true,
        converter = InstantMillis.class,
        description =
            "Restore the last revision committed at or before T: an ISO-8601 instant"
                + " (2026-12-02T05:30:00Z) or milliseconds since the epoch.")
    Long timeMs;
  }

  @Option(
      names = "--snapshot",
      required = true,
      paramLabel = "FILE",
      description = "The snapshot file to start from (meridianctl snapshot save).")
  Path snapshot;

  @Option(
      names = "--kafka",
      required = true,
      paramLabel = "BOOTSTRAP",
      description = "The Kafka cluster holding the change topic, host:port[,host:port...].")
  String kafka;

  @Option(
      names = "--topic",
      paramLabel = "NAME",
      description = "The change topic to read (default: meridian.<shard>.changes).")
  String topic;

  @Option(
      names = "--kafka-property",
      paramLabel = "KEY=VALUE",
      description = "A Kafka client setting, as the bridge's kafka.properties (repeatable).")
  Map<String, String> kafkaProperties = new LinkedHashMap<>();

  @Option(names = "--dry-run", description = "Print the plan and the result; write nothing.")
  boolean dryRun;

  @Mixin NewMember newMember;

  @Override
  public Integer call() {
    Integer shard = root.shard();
    if (shard == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--shard: required (the shard to restore)");
    }
    List<RestoredMember.Peer> voters =
        dryRun ? List.of() : newMember.check(spec, " (or give --dry-run)");
    SnapshotFile.Verified verified = verify(shard);
    String name = topic != null ? topic : BridgeConfig.topic(shard);
    PointInTimeRestore.Plan plan;
    try (ChangeArchive archive = ChangeArchive.open(kafka, name, kafkaProperties)) {
      plan =
          PointInTimeRestore.run(
              verified, archive, new PointInTimeRestore.Target(target.revision, target.timeMs));
    }
    NewMember.Written written =
        dryRun
            ? null
            : newMember.write(
                plan.state(),
                voters,
                verified.manifest().getRegion(),
                () -> defaultToken(plan.state()));
    print(spec.commandLine().getOut(), plan, written);
    return 0;
  }

  /** {@code p-} and the first 16 hex digits of the chain hash at the target revision. */
  static String defaultToken(ShardState state) {
    return "p-"
        + HexFormat.of()
            .formatHex(state.replicationState().getChainHash().toByteArray())
            .substring(0, 16);
  }

  private SnapshotFile.Verified verify(int shard) {
    SnapshotFile.Verified verified;
    try {
      verified = SnapshotFile.verify(snapshot);
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "--snapshot %s: %s", snapshot, e.getMessage());
    }
    if (verified.manifest().getShard() != shard) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "--snapshot %s is of shard %d (expected: %d, the shard --shard names)",
          snapshot,
          verified.manifest().getShard(),
          shard);
    }
    return verified;
  }

  private void print(PrintWriter out, PointInTimeRestore.Plan plan, NewMember.Written written) {
    SnapshotManifest snap = plan.snapshot();
    ShardState state = plan.state();
    String hash = HexFormat.of().formatHex(state.contentHash());
    long keys = state.stats().keys();
    ObjectNode json = JsonNodeFactory.instance.objectNode();
    json.put("snapshotRevision", snap.getRevision());
    json.put("snapshotEpoch", snap.getEpoch());
    json.put("topic", plan.topic());
    json.put("topicFirstRevision", plan.firstRevision());
    json.put("topicLastRevision", plan.lastRevision());
    json.put("coveredFrom", snap.getRevision());
    json.put("coveredTo", plan.coveredTo());
    json.put("batches", plan.batches());
    json.put("firstOffset", plan.replayOffsetFrom());
    json.put("lastOffset", plan.replayOffsetTo());
    json.put("targetRevision", plan.target());
    json.put("commitTimeMs", plan.commitTimeMs());
    json.put("epoch", state.epoch());
    json.put("keys", keys);
    json.put("leases", state.leases("").size());
    json.put("stateHash", hash);
    json.put("role", state.role().name());
    json.put("dryRun", dryRun);
    if (written != null) {
      json.put("dataDir", newMember.dataDir.toString());
      json.put("member", newMember.member);
      json.put("region", written.region());
      json.put("clusterToken", written.token());
      json.put("group", written.group().getFileName().toString());
    }

    Output.Table t = new Output.Table("STEP", "DETAIL");
    t.row(
        "snapshot",
        String.format(
            "%s: shard %d, revision %d, epoch %d, role %s, committed %s",
            snapshot,
            snap.getShard(),
            snap.getRevision(),
            snap.getEpoch(),
            snap.getRole(),
            Instant.ofEpochMilli(snap.getCommitTimeMs())));
    t.row(
        "topic",
        plan.lastRevision() < 0
            ? plan.topic() + " holds no batch"
            : String.format(
                "%s holds revisions %d..%d; with the snapshot it covers revisions %d..%d",
                plan.topic(),
                plan.firstRevision(),
                plan.lastRevision(),
                snap.getRevision(),
                plan.coveredTo()));
    t.row(
        "replay",
        plan.batches() == 0
            ? "no batch (the target is the snapshot's revision)"
            : String.format(
                "revisions %d..%d: %d batches, offsets %d..%d",
                snap.getRevision() + 1,
                plan.target(),
                plan.batches(),
                plan.replayOffsetFrom(),
                plan.replayOffsetTo()));
    t.row(
        "target",
        String.format(
            "revision %d, epoch %d, committed %s%s",
            plan.target(),
            state.epoch(),
            Instant.ofEpochMilli(plan.commitTimeMs()),
            plan.pastLastCommit()
                ? " (the topic's last revision: anything the primary committed later was not"
                    + " shipped)"
                : ""));
    t.row("result", String.format("%d keys, state hash %s", keys, hash));
    t.row(
        "role",
        state.role()
            + " (the snapshot's; change it with the role command, SetRole, once the members"
            + " run)");
    t.row(
        "written",
        written == null
            ? "nothing (--dry-run)"
            : String.format(
                "member %s: %s (Raft group %s), region %s, cluster token %s",
                newMember.member,
                newMember.dataDir,
                written.group().getFileName(),
                written.region(),
                written.token()));
    root.output(out).print(json, t);
  }

  /** An ISO-8601 instant or milliseconds since the epoch, as milliseconds. */
  static final class InstantMillis implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      if (value.chars().allMatch(Character::isDigit) && !value.isEmpty()) {
        return Long.parseLong(value);
      }
      try {
        return Instant.parse(value).toEpochMilli();
      } catch (DateTimeParseException e) {
        throw new CommandLine.TypeConversionException(
            "'"
                + value
                + "' (expected: an ISO-8601 instant such as 2026-12-02T05:30:00Z, or milliseconds"
                + " since the epoch)");
      }
    }
  }
}
