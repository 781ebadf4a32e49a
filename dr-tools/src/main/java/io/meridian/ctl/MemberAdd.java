package io.meridian.ctl;

import io.grpc.StatusRuntimeException;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Member;
import io.meridian.api.v1.MemberAddRequest;
import io.meridian.api.v1.MemberAddResponse;
import io.meridian.api.v1.MemberListRequest;
import io.meridian.api.v1.MemberPromoteRequest;
import io.meridian.api.v1.MemberPromoteResponse;
import io.meridian.api.v1.MemberShard;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl member add ADDRESS --id ID}: adds a member to a shard as a listener, follows
 * it until its applied index reaches the leader's commit index as of the add (a progress line on
 * stderr), then makes it a voter unless {@code --listener}.
 */
@Command(
    name = "add",
    mixinStandardHelpOptions = true,
    description = {
      "Adds member --id, whose node runs at Raft peer address ADDRESS with the shard in its config"
          + " and itself as `role: LISTENER`, to shard --shard as a listener; waits until it has"
          + " applied what the leader had committed, then promotes it to voter (unless"
          + " --listener).",
      "--shard and --region may be left out when the endpoints reach only one."
    })
final class MemberAdd implements Callable<Integer> {
  /** How often the new member's progress is read. */
  private static final Duration POLL = Duration.ofMillis(250);

  @ParentCommand MemberCommand member;
  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "ADDRESS",
      description = "The Raft peer address, host:port.")
  String address;

  @Option(
      names = "--id",
      required = true,
      paramLabel = "ID",
      description = "Its member id, e.g. n4.")
  String id;

  @Option(
      names = "--client-url",
      paramLabel = "URL",
      description = "Its client URL (default: what its own config says).")
  String clientUrl = "";

  @Option(names = "--listener", description = "Leave it a listener (no promotion to voter).")
  boolean listener;

  @Option(names = "--region", paramLabel = "R", description = "The region whose cluster it is.")
  String region;

  @Option(
      names = "--wait",
      paramLabel = "DURATION",
      converter = Durations.class,
      description = "How long it may take to catch up (default: 5m).")
  Duration wait = Duration.ofMinutes(5);

  @Override
  public Integer call() throws InterruptedException {
    if (wait.isZero() || wait.isNegative()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--wait: " + wait + " (expected: more than 0)");
    }
    long deadline = System.nanoTime() + wait.toNanos();
    MemberCommand.Target target = member.target(spec, region);
    MemberAddResponse added =
        member.onLeader(
            spec,
            region,
            MemberCommand.CHANGE_WAIT,
            stub ->
                stub.memberAdd(
                    MemberAddRequest.newBuilder()
                        .setId(id)
                        .setPeerAddress(address)
                        .setClientUrl(clientUrl)
                        .build()));
    String url =
        added.getMembersList().stream()
            .filter(m -> m.getId().equals(id))
            .map(Member::getClientUrl)
            .findFirst()
            .orElse("");
    if (url.isEmpty()) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "%s was added as a listener of shard %d, but neither --client-url nor its config gives"
              + " its client URL, so its catch-up cannot be followed: promote it with `meridianctl"
              + " member promote %s --shard %d` once it caught up",
          id,
          target.shard(),
          id,
          target.shard());
    }
    awaitCaughtUp(target, url, deadline);
    if (listener) {
      member
          .root
          .output(spec.commandLine().getOut())
          .print(added, MemberCommand.table(target, added.getMembersList()));
      return 0;
    }
    MemberPromoteResponse promoted = promote(target, deadline);
    member
        .root
        .output(spec.commandLine().getOut())
        .print(promoted, MemberCommand.table(target, promoted.getMembersList()));
    return 0;
  }

  /**
   * Polls the new member's applied index and the leader's commit index until the member has applied
   * the commit index the leader had at the first poll.
   */
  private void awaitCaughtUp(MemberCommand.Target target, String url, long deadline)
      throws InterruptedException {
    Progress progress = new Progress(spec.commandLine().getErr(), member.root.terminal());
    long goal = -1;
    while (true) {
      long commit =
          own(target.leader(), target.shard()).map(MemberShard::getCommitIndex).orElse(-1L);
      long applied =
          own(Member.newBuilder().setId(id).setClientUrl(url).build(), target.shard())
              .map(MemberShard::getAppliedIndex)
              .orElse(-1L);
      if (goal < 0 && commit >= 0) {
        goal = commit;
      }
      progress.show(applied, commit);
      if (goal >= 0 && applied >= goal) {
        progress.done();
        return;
      }
      if (System.nanoTime() > deadline) {
        progress.done();
        throw MeridianException.of(
            Error.Code.DEADLINE_EXCEEDED,
            "%s applied index %d of the leader's %d after %s: it stays a listener of shard %d;"
                + " promote it with `meridianctl member promote %s --shard %d` once `member list`"
                + " shows it caught up",
            id,
            applied,
            commit,
            wait,
            target.shard(),
            id,
            target.shard());
      }
      Thread.sleep(POLL.toMillis());
    }
  }

  /**
   * Promotes the new member; while the leader says it still lags, tries again until the deadline.
   */
  private MemberPromoteResponse promote(MemberCommand.Target target, long deadline)
      throws InterruptedException {
    while (true) {
      try {
        return member.onLeader(
            spec,
            region,
            MemberCommand.CHANGE_WAIT,
            stub -> stub.memberPromote(MemberPromoteRequest.newBuilder().setId(id).build()));
      } catch (MeridianException e) {
        if (e.code() != Error.Code.FAILED_PRECONDITION
            || !e.getMessage().contains("behind the leader's commit index")
            || System.nanoTime() > deadline) {
          throw e;
        }
      }
      Thread.sleep(POLL.toMillis());
    }
  }

  /** What member {@code m} says of itself in {@code shard}, if it answers. */
  private Optional<MemberShard> own(Member m, int shard) {
    try {
      List<Member> seen =
          member
              .at(m.getClientUrl(), Optional.of(shard), member.root.timeout())
              .memberList(MemberListRequest.getDefaultInstance())
              .getMembersList();
      return seen.stream()
          .filter(x -> x.getId().equals(m.getId()))
          .flatMap(x -> x.getShardsList().stream())
          .filter(s -> s.getShard() == shard)
          .findFirst();
    } catch (StatusRuntimeException e) {
      return Optional.empty();
    }
  }

  /**
   * The catch-up progress on stderr: one line rewritten in place on a terminal, else a line when
   * the applied index moved, at most one a second.
   */
  private final class Progress {
    private final PrintWriter err;
    private final boolean terminal;
    private long lastPrinted = -1;
    private long lastAt;
    private String last = "";
    private String printed = "";

    Progress(PrintWriter err, boolean terminal) {
      this.err = err;
      this.terminal = terminal;
    }

    void show(long applied, long commit) {
      String line =
          applied < 0 || commit <= 0
              ? id + ": waiting for its applied index"
              : String.format(
                  "%s: applied %d/%d (%d%%)",
                  id, applied, commit, Math.min(100, applied * 100 / commit));
      if (terminal) {
        err.print("\r" + line + " ".repeat(Math.max(0, last.length() - line.length())));
        err.flush();
      } else if (applied != lastPrinted && System.nanoTime() - lastAt >= 1_000_000_000L) {
        err.println(line);
        printed = line;
        lastPrinted = applied;
        lastAt = System.nanoTime();
      }
      last = line;
    }

    void done() {
      if (terminal) {
        err.println();
      } else if (!last.isEmpty() && !last.equals(printed)) {
        err.println(last);
      }
      err.flush();
    }
  }
}
