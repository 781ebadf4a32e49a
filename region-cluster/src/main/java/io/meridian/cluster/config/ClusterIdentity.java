package io.meridian.cluster.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Which Raft groups a node's shards are: a group's id is derived from the region, the shard and the
 * cluster token, so members of clusters with different tokens never accept each other's messages
 * (Ratis answers a message for a group it does not host with a group mismatch).
 *
 * <p>The token is empty for a cluster created from nothing (the ids of every release before
 * tokens), and set for a cluster restored from a snapshot file, whose members must not hear the old
 * cluster's. A data directory that was restored holds its token in {@value #TOKEN_FILE}; a node
 * uses it, and a {@code cluster-token} in its config that differs from it stops the node at start.
 */
public final class ClusterIdentity {
  /** The file in a data directory that holds the cluster token it was made for. */
  public static final String TOKEN_FILE = "cluster-token";

  /** What a token may hold: up to 64 letters, digits, '.', '_' or '-'. */
  public static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9._-]{0,64}");

  private ClusterIdentity() {}

  /** The UUID of the Raft group of {@code shard} in {@code region} for cluster {@code token}. */
  public static UUID groupUuid(String region, int shard, String token) {
    String name = "meridian/" + region + "/shard/" + shard;
    if (!token.isEmpty()) {
      name += "/token/" + token;
    }
    return UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8));
  }

  /** The token {@code dataDir} was restored for, if it holds one. */
  public static Optional<String> recorded(Path dataDir) throws IOException {
    Path file = dataDir.resolve(TOKEN_FILE);
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    String token = Files.readString(file, StandardCharsets.UTF_8).trim();
    if (!TOKEN.matcher(token).matches()) {
      throw new IOException(file + ": not a cluster token (" + token + ")");
    }
    return Optional.of(token);
  }

  /** Records {@code token} in {@code dataDir}. */
  public static void record(Path dataDir, String token) throws IOException {
    Files.writeString(dataDir.resolve(TOKEN_FILE), token + "\n", StandardCharsets.UTF_8);
  }

  /**
   * The token a node of {@code config} runs with: the one its data directory holds, else its
   * config's.
   *
   * @throws IOException when both are set and differ, naming both; or when the config names a token
   *     for a data directory that already holds Raft groups without one (they were created for
   *     another cluster identity)
   */
  public static String resolve(NodeConfig config) throws IOException {
    Path dataDir = Path.of(config.dataDir());
    Optional<String> recorded = recorded(dataDir);
    String configured = config.clusterToken();
    if (recorded.isPresent()) {
      if (!configured.isEmpty() && !configured.equals(recorded.get())) {
        throw new IOException(
            "cluster-token: "
                + configured
                + " in the config, but the data directory "
                + dataDir
                + " was made for cluster token "
                + recorded.get()
                + " (its "
                + TOKEN_FILE
                + " file): set cluster-token to "
                + recorded.get()
                + " or leave it out");
      }
      return recorded.get();
    }
    if (!configured.isEmpty()) {
      Path raft = dataDir.resolve("raft");
      if (Files.isDirectory(raft)) {
        try (var entries = Files.list(raft)) {
          if (entries.findAny().isPresent()) {
            throw new IOException(
                "cluster-token: "
                    + configured
                    + ", but the data directory "
                    + dataDir
                    + " holds Raft groups made without a token: leave cluster-token out, or start"
                    + " from an empty data directory");
          }
        }
      }
      Files.createDirectories(dataDir);
      record(dataDir, configured);
    }
    return configured;
  }
}
