package io.meridian.ctl;

import com.google.protobuf.ByteString;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ChangeBatch;
import io.meridian.api.v1.ChangeFeedRequest;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Position;
import io.meridian.api.v1.ReplicationGrpc;
import io.meridian.client.Stubs;
import io.meridian.router.RoutingTable;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;

/**
 * Where a returned old primary's history leaves the new primary's: the last revision both have (the
 * fork), found from their epoch histories and checked with the chain hash there, and the revisions
 * the old one committed after it, which the new primary never received.
 */
final class DivergentTail {
  private DivergentTail() {}

  /**
   * The last revision {@code old} and {@code current} share by their epoch histories: the revision
   * before the first epoch of {@code current}'s history that {@code old}'s does not have, capped at
   * both heads.
   */
  static long fork(
      List<EpochStart> old, long oldRevision, List<EpochStart> current, long currentRevision) {
    long fork = Math.min(oldRevision, currentRevision);
    for (EpochStart e : current) {
      if (!old.contains(e)) {
        fork = Math.min(fork, e.getStartRevision() - 1);
        break;
      }
    }
    return Math.max(0, fork);
  }

  /** The position of revision {@code revision} on {@code history}: (its epoch, revision). */
  static Position position(List<EpochStart> history, long revision) {
    long epoch = 0;
    for (EpochStart e : history) {
      if (e.getStartRevision() <= revision) {
        epoch = e.getEpoch();
      }
    }
    return Position.newBuilder().setEpoch(revision == 0 ? 0 : epoch).setRevision(revision).build();
  }

  /**
   * The chain hash at {@code revision} as {@code region} has it (the first batch of its feed after
   * the revision before); empty when that revision is compacted there, or is 0.
   */
  static Optional<ByteString> chainHash(
      ShardRegions regions, RoutingTable.Region region, List<EpochStart> history, long revision) {
    if (revision == 0) {
      return Optional.empty();
    }
    Context.CancellableContext feed = Context.current().withCancellation();
    try {
      return feed.call(
          () -> {
            Iterator<ChangeBatch> it = open(regions, region, position(history, revision - 1));
            return it.hasNext() ? Optional.of(it.next().getChainHash()) : Optional.empty();
          });
    } catch (MeridianException e) {
      if (e.code() == Error.Code.COMPACTED) {
        return Optional.empty();
      }
      throw e;
    } catch (Exception e) {
      throw MeridianException.causeOf(e) instanceof MeridianException m
          ? m
          : MeridianException.of(Error.Code.INTERNAL, "%s", e.toString());
    } finally {
      feed.cancel(null);
    }
  }

  /** What {@link #write} wrote. */
  record Written(long from, long to, long batches, String sha256) {}

  /**
   * Writes {@code region}'s revisions after {@code fork} through {@code head} to {@code file}, one
   * {@code ChangeBatch} per line as JSON (keys, values in base64, leases), and fsyncs it.
   *
   * @throws MeridianException COMPACTED when the region no longer holds them, naming the range
   */
  static Written write(
      ShardRegions regions,
      RoutingTable.Region region,
      List<EpochStart> history,
      long fork,
      long head,
      Path file) {
    Context.CancellableContext feed = Context.current().withCancellation();
    try {
      return feed.call(() -> copy(regions, region, history, fork, head, file));
    } catch (MeridianException e) {
      if (e.code() == Error.Code.COMPACTED) {
        throw MeridianException.of(
            Error.Code.COMPACTED,
            "%s no longer holds revisions %d..%d (compacted): they cannot be written out",
            region.region(),
            fork + 1,
            head);
      }
      throw e;
    } catch (IOException e) {
      throw MeridianException.of(Error.Code.INTERNAL, "%s: %s", file, e.getMessage());
    } catch (Exception e) {
      throw MeridianException.causeOf(e) instanceof MeridianException m
          ? m
          : MeridianException.of(Error.Code.INTERNAL, "%s", e.toString());
    } finally {
      feed.cancel(null);
    }
  }

  private static Written copy(
      ShardRegions regions,
      RoutingTable.Region region,
      List<EpochStart> history,
      long fork,
      long head,
      Path file)
      throws IOException, NoSuchAlgorithmException {
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    long batches = 0;
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (Writer out =
        Files.newBufferedWriter(
            tmp,
            StandardCharsets.UTF_8,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      Iterator<ChangeBatch> it = open(regions, region, position(history, fork));
      while (it.hasNext()) {
        ChangeBatch b = it.next();
        String line = Output.jsonLine(b) + "\n";
        out.write(line);
        sha.update(line.getBytes(StandardCharsets.UTF_8));
        batches++;
        if (b.getRevision() >= head) {
          break;
        }
      }
    }
    try (var ch = java.nio.channels.FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return new Written(fork + 1, head, batches, HexFormat.of().formatHex(sha.digest()));
  }

  private static Iterator<ChangeBatch> open(
      ShardRegions regions, RoutingTable.Region region, Position after) {
    Iterator<ChangeBatch> it =
        regions.call(
            region,
            ReplicationGrpc.ReplicationBlockingStub.class,
            Duration.ofMinutes(10),
            s -> s.changeFeed(ChangeFeedRequest.newBuilder().setAfter(after).build()));
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        try {
          return it.hasNext();
        } catch (StatusRuntimeException e) {
          throw Stubs.failure(e);
        }
      }

      @Override
      public ChangeBatch next() {
        return it.next();
      }
    };
  }
}
