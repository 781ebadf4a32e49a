package io.meridian.cluster.backup;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.config.ClusterIdentity;
import io.meridian.cluster.state.ShardState;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.server.storage.RaftStorageDirectory;
import org.apache.ratis.server.storage.RaftStorageImpl;
import org.apache.ratis.server.storage.RaftStorageMetadata;
import org.apache.ratis.server.storage.StorageImplUtils;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.util.MD5FileUtil;

/**
 * Builds one member's data directory for a new cluster from a shard state (a snapshot file's, or
 * one a point-in-time restore built). Run once per member, with the same state, peers, region and
 * token: every member then starts at the same applied index with the same state.
 *
 * <p>What it writes, for group {@code G} (the shard's Raft group for {@code token}, see {@link
 * ClusterIdentity}):
 *
 * <pre>
 *   DIR/cluster-token                      the token (the node checks its config against it)
 *   DIR/raft/G/current/raft-meta           Raft term {@value #TERM}, no vote
 *   DIR/raft/G/current/raft-meta.conf      the configuration: every peer a voter, at index {@value #INDEX}
 *   DIR/raft/G/sm/snapshot.1_1 (+ .md5)    the restored state, as the state machine stores snapshots
 * </pre>
 *
 * and no log. That is the layout Ratis leaves on a follower that installed a snapshot and purged
 * its log: on start, the state machine loads the snapshot (applied index {@value #INDEX}), Ratis's
 * log starts after it (its commit and snapshot index are the snapshot's), the configuration comes
 * from {@code raft-meta.conf}, and the snapshot is the one Ratis sends a member that joins later
 * (install-snapshot: no log before it exists anywhere). The state is {@link ShardState#restored()}
 * first: history before its revision is compacted.
 */
public final class RestoredMember {
  /** The Raft term and log index the restored snapshot is named after, on every member. */
  public static final long TERM = 1;

  public static final long INDEX = 1;

  private static final Pattern PEER =
      Pattern.compile("([A-Za-z0-9][A-Za-z0-9_-]{0,62})=([^:=\\s,]+:\\d{1,5})");

  /** A voter of the new cluster: its member id and Raft peer address {@code host:port}. */
  public record Peer(String id, String address) {
    /**
     * Parses {@code ID=HOST:PORT,...}.
     *
     * @throws IllegalArgumentException naming the element that is not {@code ID=HOST:PORT}, or a
     *     member named twice
     */
    public static List<Peer> parseList(String text) {
      List<Peer> peers = new ArrayList<>();
      Set<String> ids = new HashSet<>();
      for (String element : text.split(",", -1)) {
        var m = PEER.matcher(element.trim());
        if (!m.matches()) {
          throw new IllegalArgumentException(
              "'" + element + "' (expected: ID=HOST:PORT, e.g. n1=10.0.1.10:2380)");
        }
        if (!ids.add(m.group(1))) {
          throw new IllegalArgumentException("member " + m.group(1) + " named twice");
        }
        peers.add(new Peer(m.group(1), m.group(2)));
      }
      return peers;
    }
  }

  private RestoredMember() {}

  /**
   * Writes member {@code member}'s data directory {@code dataDir} of a new cluster of {@code peers}
   * in {@code region}, whose shard starts from {@code state} (made {@link ShardState#restored()}
   * here, so this changes {@code state}).
   *
   * @param token the new cluster's token ({@link ClusterIdentity}); not empty, so the new cluster's
   *     Raft group never takes messages from the old one's members
   * @return the Raft group directory written
   * @throws MeridianException INVALID_ARGUMENT for a member not among the peers or a bad token;
   *     FAILED_PRECONDITION for a data directory that exists and is not empty (a running node's
   *     always holds {@code raft/<group>/in_use.lock}, so this refuses a live one too)
   * @throws IOException if writing fails
   */
  public static Path write(
      ShardState state, Path dataDir, String member, List<Peer> peers, String region, String token)
      throws IOException {
    if (peers.stream().noneMatch(p -> p.id().equals(member))) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "member: %s (expected: one of the peers %s)",
          member,
          peers.stream().map(Peer::id).toList());
    }
    if (token.isEmpty() || !ClusterIdentity.TOKEN.matcher(token).matches()) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT,
          "cluster token: '%s' (expected: 1..64 letters, digits, '.', '_' or '-')",
          token);
    }
    refuseNonEmpty(dataDir);
    state.restored();
    Files.createDirectories(dataDir);
    UUID group = ClusterIdentity.groupUuid(region, state.shard(), token);
    RaftProperties properties = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(properties, List.of(dataDir.resolve("raft").toFile()));
    // FORMAT makes the directory (and takes Ratis's lock on it) as a new member's would be made.
    RaftStorageImpl storage =
        StorageImplUtils.initRaftStorage(
            group.toString(), RaftStorage.StartupOption.FORMAT, properties);
    try {
      storage.getMetadataFile().persist(RaftStorageMetadata.valueOf(TERM, RaftPeerId.valueOf("")));
      storage.writeRaftConfiguration(configuration(peers));
      // Through the interface: the directory's own class is not public.
      RaftStorageDirectory dir = ((RaftStorage) storage).getStorageDir();
      File root = dir.getRoot();
      if (!new File(dir.getCurrentDir(), "raft-meta.conf").isFile()) {
        throw new IOException(root + ": Ratis did not write the configuration file raft-meta.conf");
      }
      File sm = dir.getStateMachineDir();
      writeSnapshot(
          state, new File(sm, SimpleStateMachineStorage.getSnapshotFileName(TERM, INDEX)));
      SnapshotFile.forceDirectory(sm.toPath());
      ClusterIdentity.record(dataDir, token);
      SnapshotFile.forceDirectory(dataDir);
      return root.toPath();
    } finally {
      storage.close();
    }
  }

  private static void refuseNonEmpty(Path dataDir) throws IOException {
    if (!Files.exists(dataDir)) {
      return;
    }
    if (!Files.isDirectory(dataDir)) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION, "--data-dir %s: not a directory", dataDir);
    }
    try (var entries = Files.list(dataDir)) {
      if (entries.findAny().isPresent()) {
        throw MeridianException.of(
            Error.Code.FAILED_PRECONDITION,
            "--data-dir %s: not empty (a restore builds a new member's directory: give an empty or"
                + " missing one; a node's data directory, running or not, is never empty)",
            dataDir);
      }
    }
  }

  private static LogEntryProto configuration(List<Peer> peers) {
    RaftConfigurationProto.Builder conf = RaftConfigurationProto.newBuilder();
    for (Peer p : peers) {
      // As MeridianNode names its peers: one address for every Ratis channel.
      conf.addPeers(
          RaftPeer.newBuilder()
              .setId(p.id())
              .setAddress(p.address())
              .setClientAddress(p.address())
              .setAdminAddress(p.address())
              .build()
              .getRaftPeerProto());
    }
    return LogEntryProto.newBuilder()
        .setTerm(TERM)
        .setIndex(INDEX)
        .setConfigurationEntry(conf)
        .build();
  }

  private static void writeSnapshot(ShardState state, File target) throws IOException {
    MessageDigest md5 = MD5FileUtil.newMD5();
    try (FileOutputStream file = new FileOutputStream(target);
        OutputStream out = new BufferedOutputStream(new DigestOutputStream(file, md5), 1 << 16)) {
      state.writeSnapshot(out);
      out.flush();
      file.getFD().sync();
    }
    MD5FileUtil.saveMD5File(target, MD5Hash.newInstance(md5.digest()));
  }
}
