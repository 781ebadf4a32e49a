package io.meridian.ctl;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.backup.RestoredMember;
import io.meridian.cluster.config.ClusterIdentity;
import io.meridian.cluster.state.ShardState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * The member of a new cluster a restore writes ({@code snapshot restore}, {@code restore}): its
 * data directory, id, the new cluster's voters, region and token. A picocli mixin, so both commands
 * take the same options with the same checks.
 */
final class NewMember {
  @Option(
      names = "--data-dir",
      paramLabel = "DIR",
      description = "The new member's data directory to create: missing or empty.")
  Path dataDir;

  @Option(
      names = "--member",
      paramLabel = "ID",
      description = "The member this directory is for, one of --peers.")
  String member;

  @Option(
      names = "--peers",
      paramLabel = "ID=HOST:PORT,...",
      description = "Every voter of the new cluster with its Raft peer address.")
  String peers;

  @Option(
      names = "--region",
      paramLabel = "R",
      description = "The new cluster's region (default: the snapshot's).")
  String region;

  @Option(
      names = "--cluster-token",
      paramLabel = "T",
      description =
          "The new cluster's token (default: derived from what is restored, so every member"
              + " restored from the same file to the same revision agrees).")
  String token;

  /**
   * Checks the options before anything is read or replayed, so a long replay is not wasted on a
   * typo: usage errors name the option; a non-empty {@code --data-dir} is FAILED_PRECONDITION (the
   * writer refuses it too).
   *
   * @param orElse what the usage error for a missing option adds, e.g. " (or give --dry-run)"
   * @return the new cluster's voters
   */
  List<RestoredMember.Peer> check(CommandSpec spec, String orElse) {
    for (Object[] required :
        new Object[][] {{"--data-dir", dataDir}, {"--member", member}, {"--peers", peers}}) {
      if (required[1] == null) {
        throw new CommandLine.ParameterException(
            spec.commandLine(),
            required[0] + ": required to write a member's data directory" + orElse);
      }
    }
    List<RestoredMember.Peer> voters;
    try {
      voters = RestoredMember.Peer.parseList(peers);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--peers: " + e.getMessage());
    }
    if (voters.stream().noneMatch(p -> p.id().equals(member))) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--member: "
              + member
              + " (expected: one of --peers "
              + voters.stream().map(RestoredMember.Peer::id).toList()
              + ")");
    }
    if (token != null && (token.isEmpty() || !ClusterIdentity.TOKEN.matcher(token).matches())) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--cluster-token: '" + token + "' (expected: 1..64 letters, digits, '.', '_' or '-')");
    }
    if (region != null && !region.matches("[a-z0-9][a-z0-9-]{0,62}")) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--region: " + region + " (expected: lower-case letters, digits and '-')");
    }
    try (Stream<Path> entries = Files.isDirectory(dataDir) ? Files.list(dataDir) : Stream.empty()) {
      if (entries.findAny().isPresent()) {
        throw MeridianException.of(
            Error.Code.FAILED_PRECONDITION,
            "--data-dir %s is not empty (expected: a missing or empty directory; a restore never"
                + " writes over a member's data)",
            dataDir);
      }
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION, "--data-dir %s: cannot be read (%s)", dataDir, e);
    }
    return voters;
  }

  /** What was written: the member's region, cluster token and Raft group directory. */
  record Written(String region, String token, Path group) {}

  /**
   * Writes {@code state} as this member's data directory (see {@link RestoredMember#write}).
   *
   * @param snapshotRegion the region when {@code --region} is not given
   * @param defaultToken the token when {@code --cluster-token} is not given
   */
  Written write(
      ShardState state,
      List<RestoredMember.Peer> voters,
      String snapshotRegion,
      Supplier<String> defaultToken) {
    String in = region != null ? region : snapshotRegion;
    String cluster = token != null ? token : defaultToken.get();
    try {
      return new Written(
          in, cluster, RestoredMember.write(state, dataDir, member, voters, in, cluster));
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.INTERNAL, "--data-dir %s: could not write it (%s)", dataDir, e);
    }
  }
}
