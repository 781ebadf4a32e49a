package io.meridian.cluster.node;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.config.NodeConfig;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.proto.RaftProtos.CommitInfoProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.protocol.exceptions.ReconfigurationInProgressException;
import org.apache.ratis.protocol.exceptions.ReconfigurationTimeoutException;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The members of one shard's Raft group, and the changes an operator makes to them: add a listener,
 * promote a listener to voter, remove a member. Changes are made by the shard's leader, one at a
 * time, with Ratis's configuration change compared against the configuration they were checked on
 * (a concurrent change makes them fail, not overwrite each other).
 *
 * <p>Rules:
 *
 * <ul>
 *   <li>A member is added as a LISTENER: it receives the log and serves SERIALIZABLE reads, never
 *       votes nor stands for election. Its node must be running with the shard's group and itself
 *       as a listener (or outside the group's configuration): a node that believes it is a voter
 *       could start elections before it holds the log, so it is refused.
 *   <li>A listener becomes a voter once its applied index is within the catch-up gap (Ratis's
 *       {@code raft.server.staging.catchup.gap}, 1,000 entries) of the leader's commit index.
 *   <li>A voter's removal is refused, unless forced, when it would leave fewer than 3 voters (a
 *       cluster of 1 or 2 survives no failure), an even number of voters (no more failures survived
 *       than with one fewer, and a larger quorum), or fewer voters answering the leader than a
 *       quorum of those left (the change could not commit). A listener may always be removed. The
 *       leader's own removal first hands leadership to the most caught-up other voter.
 * </ul>
 *
 * <p>Longer than most classes: each change checks its request and the cluster first, and every
 * refusal is a sentence an operator can act on; the voter-count rule is {@link VoterCount}, the
 * question put to a joining node {@link JoiningNode}.
 *
 * <p>Each member's client URL travels with the configuration, in the Raft peer's data-stream
 * address: Meridian does not use Ratis's data-stream transport, so the field is otherwise empty,
 * and every member learns a new member's URL with the configuration that adds it.
 */
public final class Membership implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Membership.class);

  /** The member-id rule of the node config's {@code member} key. */
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");

  private static final Pattern ADDRESS = Pattern.compile("[^:\\s/]+:(\\d{1,5})");
  private static final Pattern URL = Pattern.compile("https?://[^\\s]+");

  /** How long a change may take to commit once Ratis accepted it (a new listener: to catch up). */
  public static final long CHANGE_TIMEOUT_MS = 120_000;

  private final int shard;
  private final String region;
  private final String member;
  private final NodeConfig config;
  private final RaftServer server;
  private final RaftGroupId groupId;
  private final RaftCalls raft;
  private final LocalDivision division;
  private final Supplier<RaftClient> newClient;
  // How this node calls other members (TLS between members, when configured).
  private final Parameters transport;
  // Blocking Ratis admin calls (probes of new members, changes sent to another leader).
  private final ExecutorService calls;

  /** One member of the shard's group as the configuration records it. */
  public record Peer(String id, String peerAddress, String clientUrl, boolean listener) {}

  Membership(
      int shard,
      NodeConfig config,
      RaftCalls raft,
      LocalDivision division,
      Supplier<RaftClient> newClient,
      Parameters transport) {
    this.shard = shard;
    this.region = config.region();
    this.member = config.member();
    this.config = config;
    this.raft = raft;
    this.server = raft.server();
    this.groupId = raft.groupId();
    this.division = division;
    this.newClient = newClient;
    this.transport = transport;
    this.calls =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "meridian-membership-" + member + "-shard-" + shard);
              t.setDaemon(true);
              return t;
            });
  }

  /** The Raft peer of a member: one address for peers, clients and admin; the client URL kept. */
  public static RaftPeer peer(String id, String address, String clientUrl, RaftPeerRole role) {
    RaftPeer.Builder b =
        RaftPeer.newBuilder()
            .setId(id)
            .setAddress(address)
            .setClientAddress(address)
            .setAdminAddress(address)
            .setStartupRole(role);
    if (clientUrl != null && !clientUrl.isEmpty()) {
      b.setDataStreamAddress(clientUrl);
    }
    return b.build();
  }

  /**
   * The shard's members as this member's Raft configuration records them: voters, then listeners
   * (empty if the division is gone).
   */
  public List<Peer> members() {
    RaftConfiguration conf = conf();
    List<Peer> out = new ArrayList<>();
    if (conf == null) {
      return out;
    }
    for (RaftPeer p : sorted(conf.getCurrentPeers(RaftPeerRole.FOLLOWER))) {
      out.add(view(p, false));
    }
    for (RaftPeer p : sorted(conf.getCurrentPeers(RaftPeerRole.LISTENER))) {
      out.add(view(p, true));
    }
    return out;
  }

  private List<RaftPeer> sorted(Collection<RaftPeer> peers) {
    List<String> order = config.members().stream().map(NodeConfig.Member::id).toList();
    List<RaftPeer> list = new ArrayList<>(peers);
    list.sort(
        Comparator.comparingInt(
                (RaftPeer p) -> {
                  int i = order.indexOf(p.getId().toString());
                  return i < 0 ? Integer.MAX_VALUE : i;
                })
            .thenComparing(p -> p.getId().toString()));
    return list;
  }

  /** A peer as shown: its client URL from the configuration, else from this node's config. */
  private Peer view(RaftPeer p, boolean listener) {
    String id = p.getId().toString();
    String url = p.getDataStreamAddress();
    if (url == null || url.isEmpty()) {
      url =
          config.members().stream()
              .filter(m -> m.id().equals(id))
              .map(NodeConfig.Member::client)
              .findFirst()
              .orElse("");
    }
    return new Peer(id, p.getAddress(), url, listener);
  }

  /**
   * Adds member {@code id} at Raft address {@code address} as a listener; completes once the
   * configuration with it committed. {@code clientUrl} may be empty: the new node's own config says
   * it.
   */
  public CompletableFuture<Void> add(String id, String address, String clientUrl) {
    try {
      checkId(id);
      if (!ADDRESS.matcher(address).matches() || !validPort(address)) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT,
            "peer_address: %s (expected: host:port of the new member's Raft peer transport)",
            address.isEmpty() ? "empty" : address);
      }
      if (!clientUrl.isEmpty() && !URL.matcher(clientUrl).matches()) {
        throw MeridianException.of(
            Error.Code.INVALID_ARGUMENT, "client_url: %s (expected: http://host:port)", clientUrl);
      }
      RaftConfiguration conf = requireLeader();
      for (RaftPeer p : all(conf)) {
        if (p.getId().toString().equals(id)) {
          throw MeridianException.of(
              Error.Code.ALREADY_EXISTS,
              "%s is a %s of shard %d in %s already (at %s)",
              id,
              isListener(conf, p.getId()) ? "listener" : "voter",
              shard,
              region,
              p.getAddress());
        }
        if (address.equals(p.getAddress())) {
          throw MeridianException.of(
              Error.Code.ALREADY_EXISTS,
              "peer_address: %s is member %s's address in shard %d in %s",
              address,
              p.getId(),
              shard,
              region);
        }
      }
      RaftPeer probe = peer(id, address, clientUrl, RaftPeerRole.LISTENER);
      return CompletableFuture.supplyAsync(
              () -> JoiningNode.ask(probe, groupId, shard, server.getProperties(), transport, true),
              calls)
          .thenCompose(
              joining -> {
                String url = clientUrl.isEmpty() ? joining.clientUrl() : clientUrl;
                RaftPeer added = peer(id, address, url, RaftPeerRole.LISTENER);
                List<RaftPeer> listeners = new ArrayList<>(listeners(conf));
                listeners.add(added);
                log.info(
                    "shard={} region={} member={} adding {} at {} as a listener",
                    shard,
                    region,
                    member,
                    id,
                    address);
                return change(conf, voters(conf), listeners, "add " + id);
              });
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** Makes listener {@code id} a voter; completes once the configuration committed. */
  public CompletableFuture<Void> promote(String id) {
    try {
      RaftConfiguration conf = requireLeader();
      RaftPeer listener = find(conf, id);
      if (!isListener(conf, listener.getId())) {
        throw MeridianException.of(
            Error.Code.FAILED_PRECONDITION,
            "%s is a voter of shard %d in %s already: only a listener can be promoted",
            id,
            shard,
            region);
      }
      return CompletableFuture.supplyAsync(
              () ->
                  JoiningNode.ask(
                      listener, groupId, shard, server.getProperties(), transport, false),
              calls)
          .thenCompose(
              joining -> {
                long commit = division.commitIndex();
                int gap = RaftServerConfigKeys.stagingCatchupGap(server.getProperties());
                if (commit - joining.appliedIndex() > gap) {
                  throw MeridianException.of(
                      Error.Code.FAILED_PRECONDITION,
                      "%s has applied index %d, %d behind the leader's commit index %d (more than"
                          + " the catch-up gap of %d): wait until it caught up (meridianctl member"
                          + " list shows its applied index)",
                      id,
                      joining.appliedIndex(),
                      commit - joining.appliedIndex(),
                      commit,
                      gap);
                }
                List<RaftPeer> voters = new ArrayList<>(voters(conf));
                voters.add(
                    RaftPeer.newBuilder(listener).setStartupRole(RaftPeerRole.FOLLOWER).build());
                List<RaftPeer> listeners = new ArrayList<>(listeners(conf));
                listeners.removeIf(p -> p.getId().equals(listener.getId()));
                log.info(
                    "shard={} region={} member={} promoting listener {} to voter",
                    shard,
                    region,
                    member,
                    id);
                return change(conf, voters, listeners, "promote " + id);
              });
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Removes member {@code id}; {@code force} skips the voter-count and quorum checks. Completes
   * with the shard's members after the change, as the configuration sent records them.
   */
  public CompletableFuture<List<Peer>> remove(String id, boolean force) {
    try {
      RaftConfiguration conf = requireLeader();
      RaftPeer removed = find(conf, id);
      List<RaftPeer> voters = new ArrayList<>(voters(conf));
      List<RaftPeer> listeners = new ArrayList<>(listeners(conf));
      boolean voter = !isListener(conf, removed.getId());
      voters.removeIf(p -> p.getId().equals(removed.getId()));
      listeners.removeIf(p -> p.getId().equals(removed.getId()));
      if (voter) {
        VoterCount.check(id, shard, region, voters.size(), () -> answering(voters), force);
      }
      List<Peer> after = new ArrayList<>();
      sorted(voters).forEach(p -> after.add(view(p, false)));
      sorted(listeners).forEach(p -> after.add(view(p, true)));
      log.info(
          "shard={} region={} member={} removing {} {}{}",
          shard,
          region,
          member,
          voter ? "voter" : "listener",
          id,
          force ? " (forced)" : "");
      if (!id.equals(member)) {
        return change(conf, voters, listeners, "remove " + id).thenApply(v -> after);
      }
      String next = mostCaughtUp(voters);
      log.info(
          "shard={} region={} member={} hands leadership to {} before its own removal",
          shard,
          region,
          member,
          next);
      return division
          .transferLeadership(next, 10_000)
          .thenCompose(
              moved ->
                  CompletableFuture.runAsync(
                      () -> changeThroughLeader(conf, voters, listeners, "remove " + id), calls))
          .thenApply(v -> after);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** How many of {@code voters} the leader heard from within the longest election timeout. */
  private int answering(List<RaftPeer> voters) {
    DivisionInfo info = raft.info();
    if (info == null || !info.getRoleInfoProto().hasLeaderInfo()) {
      return 0;
    }
    long timeoutMs = config.raft().electionTimeoutMaxMs();
    int n = 0;
    for (RaftPeer v : voters) {
      if (v.getId().toString().equals(member)) {
        n++;
        continue;
      }
      for (var f : info.getRoleInfoProto().getLeaderInfo().getFollowerInfoList()) {
        if (f.getId().getId().toStringUtf8().equals(v.getId().toString())
            && f.getLastRpcElapsedTimeMs() <= timeoutMs) {
          n++;
        }
      }
    }
    return n;
  }

  /** The voter among {@code voters} with the highest commit index the leader knows of. */
  private String mostCaughtUp(List<RaftPeer> voters) {
    Map<String, Long> commits = new LinkedHashMap<>();
    try {
      for (CommitInfoProto c : server.getDivision(groupId).getCommitInfos()) {
        commits.put(c.getServer().getId().toStringUtf8(), c.getCommitIndex());
      }
    } catch (IOException e) {
      throw RaftCalls.unavailable(e);
    }
    return voters.stream()
        .map(p -> p.getId().toString())
        .max(Comparator.comparingLong(v -> commits.getOrDefault(v, -1L)))
        .orElseThrow();
  }

  /** Proposes the configuration {@code voters} + {@code listeners} here, as the leader. */
  private CompletableFuture<Void> change(
      RaftConfiguration checked, List<RaftPeer> voters, List<RaftPeer> listeners, String what) {
    SetConfigurationRequest request =
        new SetConfigurationRequest(
            ClientId.randomId(),
            server.getId(),
            groupId,
            raft.nextCallId(),
            arguments(checked, voters, listeners));
    CompletableFuture<RaftClientReply> sent;
    try {
      sent = server.setConfigurationAsync(request);
    } catch (IOException | RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.orTimeout(CHANGE_TIMEOUT_MS, TimeUnit.MILLISECONDS)
        .handle(
            (reply, t) -> {
              if (t == null && reply.isSuccess()) {
                log.info("shard={} region={} member={} {}: committed", shard, region, member, what);
                return null;
              }
              throw failed(what, t != null ? t : reply.getException());
            });
  }

  /** Sends the change to whichever member leads now, through a Raft client (blocking). */
  private void changeThroughLeader(
      RaftConfiguration checked, List<RaftPeer> voters, List<RaftPeer> listeners, String what) {
    try (RaftClient client = newClient.get()) {
      RaftClientReply reply =
          client.admin().setConfiguration(arguments(checked, voters, listeners));
      if (!reply.isSuccess()) {
        throw failed(what, reply.getException());
      }
      log.info("shard={} region={} member={} {}: committed", shard, region, member, what);
    } catch (IOException e) {
      throw failed(what, e);
    }
  }

  private static SetConfigurationRequest.Arguments arguments(
      RaftConfiguration checked, List<RaftPeer> voters, List<RaftPeer> listeners) {
    return SetConfigurationRequest.Arguments.newBuilder()
        .setServersInNewConf(voters)
        .setListenersInNewConf(listeners)
        // Applied only if the configuration is still the one the request was checked against.
        .setMode(SetConfigurationRequest.Mode.COMPARE_AND_SET)
        .setServersInCurrentConf(voters(checked))
        .setListenersInCurrentConf(listeners(checked))
        .build();
  }

  private MeridianException failed(String what, Throwable t) {
    Throwable cause = t == null ? null : MeridianException.causeOf(t);
    if (cause instanceof MeridianException m) {
      return m;
    }
    if (cause instanceof ReconfigurationInProgressException) {
      return MeridianException.of(
          Error.Code.UNAVAILABLE,
          "shard %d in %s: another membership change is under way; retry once it committed",
          shard,
          region);
    }
    if (cause instanceof ReconfigurationTimeoutException) {
      return MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "shard %d in %s: %s failed: the new member stopped answering the leader while it caught"
              + " up; check that its node runs and its peer port is reachable",
          shard,
          region,
          what);
    }
    if (cause instanceof java.util.concurrent.TimeoutException) {
      return MeridianException.of(
          Error.Code.DEADLINE_EXCEEDED,
          "shard %d in %s: %s did not commit within %d s",
          shard,
          region,
          what,
          CHANGE_TIMEOUT_MS / 1000);
    }
    return MeridianException.of(
        Error.Code.UNAVAILABLE,
        "shard %d in %s: %s failed: %s",
        shard,
        region,
        what,
        cause == null
            ? "no reason given"
            : cause.getClass().getSimpleName() + ": " + cause.getMessage());
  }

  private RaftConfiguration requireLeader() {
    DivisionInfo info = raft.info();
    RaftConfiguration conf = conf();
    if (info == null || conf == null || !info.isLeader()) {
      RaftPeerId leader = info == null ? null : info.getLeaderId();
      throw MeridianException.of(
          Error.Code.UNAVAILABLE,
          "member %s does not lead shard %d in %s (%s does): ask the leader",
          member,
          shard,
          region,
          leader == null ? "no member" : leader);
    }
    if (!conf.getPreviousPeers().isEmpty()) {
      throw MeridianException.of(
          Error.Code.UNAVAILABLE,
          "shard %d in %s: another membership change is under way; retry once it committed",
          shard,
          region);
    }
    return conf;
  }

  private RaftPeer find(RaftConfiguration conf, String id) {
    checkId(id);
    for (RaftPeer p : all(conf)) {
      if (p.getId().toString().equals(id)) {
        return p;
      }
    }
    throw MeridianException.of(
        Error.Code.NOT_FOUND,
        "id: %s is not a member of shard %d in %s (members: %s)",
        id,
        shard,
        region,
        all(conf).stream().map(p -> p.getId().toString()).toList());
  }

  private static void checkId(String id) {
    if (!ID.matcher(id).matches()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "id: %s (expected: 1..63 letters, digits, '-' or '_', e.g. n4)",
          id.isEmpty() ? "empty" : id);
    }
  }

  private static boolean validPort(String address) {
    var m = ADDRESS.matcher(address);
    if (!m.matches()) {
      return false;
    }
    int port = Integer.parseInt(m.group(1));
    return port >= 1 && port <= 65535;
  }

  private RaftConfiguration conf() {
    try {
      return server.getDivision(groupId).getRaftConf();
    } catch (IOException e) {
      return null;
    }
  }

  private static boolean isListener(RaftConfiguration conf, RaftPeerId id) {
    return conf.getPeer(id, RaftPeerRole.LISTENER) != null;
  }

  private static List<RaftPeer> voters(RaftConfiguration conf) {
    return List.copyOf(conf.getCurrentPeers(RaftPeerRole.FOLLOWER));
  }

  private static List<RaftPeer> listeners(RaftConfiguration conf) {
    return List.copyOf(conf.getCurrentPeers(RaftPeerRole.LISTENER));
  }

  private static List<RaftPeer> all(RaftConfiguration conf) {
    List<RaftPeer> all = new ArrayList<>(voters(conf));
    all.addAll(listeners(conf));
    return all;
  }

  @Override
  public void close() {
    calls.shutdownNow();
  }
}
