package io.meridian.ctl;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.StatusRuntimeException;
import io.meridian.api.MeridianException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberListResponse;
import io.meridian.api.v1.MemberPromoteRequest;
import io.meridian.api.v1.MemberPromoteResponse;
import io.meridian.api.v1.MemberRemoveRequest;
import io.meridian.api.v1.MemberRemoveResponse;
import io.meridian.api.v1.MemberShard;
import io.meridian.api.v1.TransferLeadershipRequest;
import io.meridian.api.v1.TransferLeadershipResponse;
import io.meridian.client.Stubs;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl member list|transfer-leadership|add|promote|remove}: the members of the region
 * clusters. Changes are sent to the shard's leader, found through {@code member list}.
 */
@Command(
    name = "member",
    mixinStandardHelpOptions = true,
    description =
        "The members of the region clusters the endpoints reach: list, leadership, add, promote,"
            + " remove.",
    subcommands = {
      MemberCommand.ListMembers.class,
      MemberCommand.TransferLeadership.class,
      MemberAdd.class,
      MemberCommand.Promote.class,
      MemberCommand.Remove.class
    })
final class MemberCommand {
  @ParentCommand Meridianctl root;

  /** Every member the endpoints know of (a router: of every region). */
  MemberListResponse members() {
    return Stubs.call(
            root.client()
                    .stubs()
                    .cluster()
                    .withDeadlineAfter(root.timeout().toMillis(), TimeUnit.MILLISECONDS)
                ::memberList,
            MemberListRequest.getDefaultInstance(),
            true)
        .join();
  }

  ClusterGrpc.ClusterBlockingStub at(String url, Optional<Integer> shard, Duration wait) {
    var b = GrpcClients.builder(url).factory(root.factory()).responseTimeout(wait);
    shard.ifPresent(s -> b.addHeader(ShardHeader.NAME, Integer.toString(s)));
    return b.build(ClusterGrpc.ClusterBlockingStub.class);
  }

  /**
   * The member as it sees itself: its applied and commit index in each shard, which only it knows
   * (empty if it does not answer).
   */
  private Optional<Member> own(Member m) {
    try {
      return at(m.getClientUrl(), Optional.empty(), root.timeout())
          .memberList(MemberListRequest.getDefaultInstance())
          .getMembersList()
          .stream()
          .filter(x -> x.getId().equals(m.getId()) && x.getRegion().equals(m.getRegion()))
          .findFirst();
    } catch (StatusRuntimeException e) {
      return Optional.empty();
    }
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description =
          "Every member with its Raft role, applied and commit index in each shard (--shard: one),"
              + " and its health.")
  static final class ListMembers implements Callable<Integer> {
    @ParentCommand MemberCommand member;
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
      MemberListResponse listed = member.members();
      Integer only = member.root.shard();
      Map<String, String> health =
          MemberHealth.of(
              listed.getMembersList().stream().map(Member::getClientUrl).toList(),
              member.root.timeout(),
              member.root.factory());
      MemberListResponse.Builder seen = listed.toBuilder().clearMembers();
      Output.Table table =
          new Output.Table(
              "REGION", "MEMBER", "SHARD", "ROLE", "APPLIED", "COMMIT", "HEALTH", "CLIENT_URL");
      for (Member m : listed.getMembersList()) {
        Member self = member.own(m).orElse(m);
        seen.addMembers(self);
        for (MemberShard s : self.getShardsList()) {
          if (only == null || s.getShard() == only) {
            table.row(
                m.getRegion(),
                m.getId(),
                s.getShard(),
                s.getRole(),
                s.getAppliedIndex(),
                s.getCommitIndex(),
                health.get(m.getClientUrl()),
                m.getClientUrl());
          }
        }
      }
      ObjectNode json = JsonNodeFactory.instance.objectNode();
      json.set("members", Output.tree(seen.build()).path("members"));
      json.set("health", new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(health));
      member.root.output(spec.commandLine().getOut()).print(json, table);
      return 0;
    }
  }

  @Command(
      name = "transfer-leadership",
      mixinStandardHelpOptions = true,
      description = {
        "Hands the leadership of shard --shard in region --region to member --to, and waits until"
            + " it leads.",
        "--shard and --region may be left out when the endpoints reach only one."
      })
  static final class TransferLeadership implements Callable<Integer> {
    @ParentCommand MemberCommand member;
    @Spec CommandSpec spec;

    @Option(names = "--to", required = true, paramLabel = "ID", description = "A voter, e.g. n2.")
    String to;

    @Option(names = "--region", paramLabel = "R", description = "The region whose cluster it is.")
    String region;

    @Option(
        names = "--wait",
        paramLabel = "DURATION",
        converter = Durations.class,
        description = "How long --to may take to take over (default: 10s, at most 60s).")
    Duration wait = Duration.ofSeconds(10);

    @Override
    public Integer call() {
      if (wait.isZero() || wait.isNegative() || wait.compareTo(Duration.ofSeconds(60)) > 0) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), "--wait: " + wait + " (expected: more than 0, at most 60s)");
      }
      Target target = member.target(spec, region);
      int shard = target.shard();
      String in = target.region();
      Member leader = target.leader();
      TransferLeadershipResponse moved;
      try {
        moved =
            member
                .at(leader.getClientUrl(), Optional.of(shard), wait.plusSeconds(5))
                .transferLeadership(
                    TransferLeadershipRequest.newBuilder()
                        .setTo(to)
                        .setTimeoutMs(wait.toMillis())
                        .build());
      } catch (StatusRuntimeException e) {
        throw Stubs.failure(e);
      }
      member
          .root
          .output(spec.commandLine().getOut())
          .print(
              moved,
              new Output.Table("SHARD", "REGION", "LEADER_WAS", "LEADER")
                  .row(shard, in, leader.getId(), moved.getLeader()));
      return 0;
    }
  }

  /** Where a change of one shard's members goes: the region, the shard and its leader now. */
  record Target(String region, int shard, Member leader) {}

  /**
   * The leader of the shard {@code --shard} names (or the only shard) in {@code region} (or the
   * only region) the endpoints reach.
   */
  Target target(CommandSpec spec, String region) {
    List<Member> members = members().getMembersList();
    TreeSet<String> regions = new TreeSet<>();
    members.forEach(m -> regions.add(m.getRegion()));
    String in = pick(spec, region, regions, "--region");
    List<Member> cluster = members.stream().filter(m -> m.getRegion().equals(in)).toList();
    TreeSet<Integer> shards = new TreeSet<>();
    cluster.forEach(m -> m.getShardsList().forEach(s -> shards.add(s.getShard())));
    Integer named = root.shard();
    int shard =
        Integer.parseInt(
            pick(spec, named == null ? null : named.toString(), asText(shards), "--shard"));
    Member leader =
        cluster.stream()
            .filter(
                m ->
                    m.getShardsList().stream()
                        .anyMatch(s -> s.getShard() == shard && s.getRole().equals("LEADER")))
            .findFirst()
            .orElseThrow(
                () ->
                    MeridianException.of(
                        Error.Code.UNAVAILABLE,
                        "shard %d in %s has no leader now: try again in a moment",
                        shard,
                        in));
    return new Target(in, shard, leader);
  }

  /**
   * Calls {@code call} on the shard's leader; if leadership moved meanwhile (the member answers
   * UNAVAILABLE, naming another), finds the leader again, up to 3 times.
   */
  <R> R onLeader(
      CommandSpec spec,
      String region,
      Duration wait,
      java.util.function.Function<ClusterGrpc.ClusterBlockingStub, R> call) {
    for (int attempt = 1; ; attempt++) {
      Target t = target(spec, region);
      try {
        return call.apply(at(t.leader().getClientUrl(), Optional.of(t.shard()), wait));
      } catch (StatusRuntimeException e) {
        MeridianException failure = Stubs.failure(e);
        if (attempt >= 3
            || failure.code() != Error.Code.UNAVAILABLE
            || !failure.getMessage().contains("does not lead")) {
          throw failure;
        }
      }
    }
  }

  /** {@code given}, or the only one of {@code choices}; a usage error otherwise. */
  static String pick(CommandSpec spec, String given, TreeSet<String> choices, String option) {
    if (given != null) {
      if (!choices.contains(given)) {
        throw new CommandLine.ParameterException(
            spec.commandLine(), option + ": " + given + " (expected: one of " + choices + ")");
      }
      return given;
    }
    if (choices.size() != 1) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          option
              + ": not given, and the endpoints reach "
              + choices
              + " (expected: "
              + option
              + " one of them)");
    }
    return choices.first();
  }

  private static TreeSet<String> asText(TreeSet<Integer> shards) {
    TreeSet<String> out = new TreeSet<>(java.util.Comparator.comparingInt(Integer::parseInt));
    shards.forEach(s -> out.add(Integer.toString(s)));
    return out;
  }

  /** The shard's members after a change, one row each. */
  static Output.Table table(Target t, List<Member> members) {
    Output.Table table =
        new Output.Table("REGION", "SHARD", "MEMBER", "ROLE", "PEER_ADDRESS", "CLIENT_URL");
    for (Member m : members) {
      String role =
          m.getShardsList().stream()
              .filter(s -> s.getShard() == t.shard())
              .map(MemberShard::getRole)
              .findFirst()
              .orElse("");
      table.row(t.region(), t.shard(), m.getId(), role, m.getPeerAddress(), m.getClientUrl());
    }
    return table;
  }

  /** How long a membership change may take at the leader (a new listener catches up first). */
  static final Duration CHANGE_WAIT = Duration.ofSeconds(135);

  @Command(
      name = "promote",
      mixinStandardHelpOptions = true,
      description = {
        "Makes listener ID a voter of shard --shard, once its applied index is within the"
            + " catch-up gap (1000 entries) of the leader's commit index.",
        "--shard and --region may be left out when the endpoints reach only one."
      })
  static final class Promote implements Callable<Integer> {
    @ParentCommand MemberCommand member;
    @Spec CommandSpec spec;

    @CommandLine.Parameters(index = "0", paramLabel = "ID", description = "A listener, e.g. n4.")
    String id;

    @Option(names = "--region", paramLabel = "R", description = "The region whose cluster it is.")
    String region;

    @Override
    public Integer call() {
      Target t = member.target(spec, region);
      MemberPromoteResponse promoted =
          member.onLeader(
              spec,
              region,
              CHANGE_WAIT,
              stub -> stub.memberPromote(MemberPromoteRequest.newBuilder().setId(id).build()));
      member
          .root
          .output(spec.commandLine().getOut())
          .print(promoted, table(t, promoted.getMembersList()));
      return 0;
    }
  }

  @Command(
      name = "remove",
      mixinStandardHelpOptions = true,
      description = {
        "Removes member ID from shard --shard. A voter's removal is refused when it would leave"
            + " fewer than 3 voters, an even number, or fewer answering voters than a quorum"
            + " (--force removes anyway); a listener may always be removed. Removing the leader"
            + " hands leadership to the most caught-up other voter first.",
        "--shard and --region may be left out when the endpoints reach only one."
      })
  static final class Remove implements Callable<Integer> {
    @ParentCommand MemberCommand member;
    @Spec CommandSpec spec;

    @CommandLine.Parameters(index = "0", paramLabel = "ID", description = "A member, e.g. n2.")
    String id;

    @Option(names = "--region", paramLabel = "R", description = "The region whose cluster it is.")
    String region;

    @Option(
        names = "--force",
        description = "Remove a voter even below 3 voters, to an even count or without a quorum.")
    boolean force;

    @Override
    public Integer call() {
      Target t = member.target(spec, region);
      MemberRemoveResponse removed =
          member.onLeader(
              spec,
              region,
              CHANGE_WAIT,
              stub ->
                  stub.memberRemove(
                      MemberRemoveRequest.newBuilder().setId(id).setForce(force).build()));
      member
          .root
          .output(spec.commandLine().getOut())
          .print(removed, table(t, removed.getMembersList()));
      return 0;
    }
  }
}
