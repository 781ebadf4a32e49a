package io.meridian.ctl;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.SnapshotBodyEnd;
import io.meridian.api.v1.SnapshotChunk;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.api.v1.SnapshotStreamRequest;
import io.meridian.client.Stubs;
import io.meridian.cluster.backup.RestoredMember;
import io.meridian.cluster.backup.SnapshotFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl snapshot save|verify|restore}: a shard's state as a file an operator keeps,
 * and a new cluster built from one.
 */
@Command(
    name = "snapshot",
    mixinStandardHelpOptions = true,
    description = "Snapshot files of a shard: save one from a member, verify it, restore from it.",
    subcommands = {
      SnapshotCommand.Save.class,
      SnapshotCommand.Verify.class,
      SnapshotCommand.Restore.class
    })
final class SnapshotCommand {
  @ParentCommand Meridianctl root;

  /** The manifest as a table row: what an operator checks first. */
  static Output.Table table(SnapshotManifest m) {
    return new Output.Table(
            "SHARD",
            "REVISION",
            "COMPACT_REVISION",
            "EPOCH",
            "KEYS",
            "LEASES",
            "STATE_HASH",
            "CHAIN_HASH",
            "SIZE",
            "CREATED")
        .row(
            m.getShard(),
            m.getRevision(),
            m.getCompactRevision(),
            m.getEpoch(),
            m.getKeys(),
            m.getLeases(),
            hex(m.getStateHash().toByteArray()),
            hex(m.getChainHash().toByteArray()),
            m.getBodyBytes(),
            Instant.ofEpochMilli(m.getCreatedMs()));
  }

  private static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }

  /** {@code file}, which must exist: a usage error naming FILE otherwise. */
  static Path existing(CommandSpec spec, Path file) {
    if (!Files.isRegularFile(file)) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "FILE: " + file + " (expected: an existing snapshot file)");
    }
    return file;
  }

  /** {@link SnapshotFile#verify}, its failure as an error that names the file and the check. */
  static SnapshotFile.Verified verify(Path file) {
    try {
      return SnapshotFile.verify(file);
    } catch (IOException e) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "snapshot verify failed: %s", e.getMessage());
    }
  }

  @Command(
      name = "save",
      mixinStandardHelpOptions = true,
      description = {
        "Streams a snapshot of shard --shard (needed for nodes with several) from the first member"
            + " that answers into FILE, checks the body's checksum and renames it into place.",
        "FILE must not exist. Writes go on while it streams: the member freezes its applied state."
      })
  static final class Save implements Callable<Integer> {
    @ParentCommand SnapshotCommand snapshot;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "Where to write, e.g. s0.msnap.")
    Path file;

    @Override
    public Integer call() throws IOException {
      if (Files.exists(file)) {
        throw MeridianException.of(
            Error.Code.ALREADY_EXISTS,
            "FILE: %s exists (a snapshot file is never overwritten: name a new one)",
            file);
      }
      List<String> endpoints = snapshot.root.endpoints();
      MeridianException last = null;
      // The client's endpoint group skips members its health checks found down; a member that
      // fails before the manifest arrived is passed over for the next.
      for (int attempt = 0; attempt < endpoints.size(); attempt++) {
        Stream stream =
            new Stream(snapshot.root.client().stubs(), snapshot.root.timeout().toMillis());
        try {
          SnapshotManifest saved = stream.saveTo(file);
          snapshot.root.output(spec.commandLine().getOut()).print(saved, table(saved));
          return 0;
        } catch (MeridianException e) {
          if (stream.started || e.code() != Error.Code.UNAVAILABLE) {
            throw e;
          }
          last = e;
        }
      }
      throw last;
    }
  }

  /** One snapshot stream read at the pace it is written to the file (flow control). */
  private static final class Stream {
    private static final Object DONE = new Object();
    private final Stubs stubs;
    private final long stallMs;
    private final BlockingQueue<Object> arrived = new LinkedBlockingQueue<>();
    private volatile ClientCallStreamObserver<SnapshotStreamRequest> call;
    boolean started;

    Stream(Stubs stubs, long stallMs) {
      this.stubs = stubs;
      this.stallMs = stallMs;
    }

    SnapshotManifest saveTo(Path file) throws IOException {
      stubs
          .clusterStream()
          .snapshotStream(
              SnapshotStreamRequest.getDefaultInstance(),
              new ClientResponseObserver<SnapshotStreamRequest, SnapshotChunk>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<SnapshotStreamRequest> c) {
                  call = c;
                  c.disableAutoRequestWithInitial(1);
                }

                @Override
                public void onNext(SnapshotChunk chunk) {
                  arrived.add(chunk);
                }

                @Override
                public void onError(Throwable t) {
                  arrived.add(t);
                }

                @Override
                public void onCompleted() {
                  arrived.add(DONE);
                }
              });
      try (SnapshotFile.Writer writer = SnapshotFile.create(file)) {
        SnapshotChunk first = next();
        if (!first.hasManifest()) {
          throw broken("the first chunk is not the manifest");
        }
        started = true;
        SnapshotManifest manifest = first.getManifest();
        SnapshotBodyEnd end = null;
        long bytes = 0;
        while (end == null) {
          SnapshotChunk chunk = next();
          switch (chunk.getPartCase()) {
            case DATA -> {
              chunk.getData().writeTo(writer.body());
              bytes += chunk.getData().size();
            }
            case END -> end = chunk.getEnd();
            default -> throw broken("a second manifest, or an empty chunk");
          }
        }
        if (!(arrived.poll(stallMs, TimeUnit.MILLISECONDS) == DONE)) {
          throw broken("chunks after the end");
        }
        if (bytes != end.getBodyBytes()) {
          throw broken("received " + bytes + " body bytes, the member sent " + end.getBodyBytes());
        }
        try {
          return writer.finish(manifest, end.getBodySha256().toByteArray());
        } catch (IOException e) {
          throw MeridianException.of(Error.Code.INTERNAL, "snapshot save: %s", e.getMessage());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw MeridianException.of(Error.Code.UNAVAILABLE, "snapshot save interrupted");
      } finally {
        ClientCallStreamObserver<SnapshotStreamRequest> c = call;
        if (c != null) {
          c.cancel("meridianctl snapshot save ended", null);
        }
      }
    }

    /** The next chunk, asking for the one after it once this one is taken. */
    private SnapshotChunk next() throws InterruptedException {
      Object o = arrived.poll(stallMs, TimeUnit.MILLISECONDS);
      if (o == null) {
        throw MeridianException.of(
            Error.Code.UNAVAILABLE,
            "snapshot stream: nothing arrived for %d ms (--timeout)",
            stallMs);
      }
      if (o instanceof Throwable t) {
        if (io.grpc.Status.fromThrowable(t).getCode() == io.grpc.Status.Code.UNIMPLEMENTED) {
          throw MeridianException.of(
              Error.Code.FAILED_PRECONDITION,
              "the endpoint does not stream snapshots (routers do not): give --endpoints the"
                  + " members of the region cluster");
        }
        throw Stubs.failure(t);
      }
      if (o == DONE) {
        throw broken("it ended before the body's checksum");
      }
      call.request(1);
      return (SnapshotChunk) o;
    }

    private static MeridianException broken(String what) {
      return MeridianException.of(
          Error.Code.INTERNAL, "snapshot stream broken: %s; nothing was written", what);
    }
  }

  @Command(
      name = "verify",
      mixinStandardHelpOptions = true,
      description =
          "Checks FILE whole: its manifest, the body's size and SHA-256, a full decode, and that"
              + " the decoded state matches the manifest.")
  static final class Verify implements Callable<Integer> {
    @ParentCommand SnapshotCommand snapshot;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "A snapshot file.")
    Path file;

    @Override
    public Integer call() {
      SnapshotFile.Verified verified = verify(existing(spec, file));
      var out = spec.commandLine().getOut();
      snapshot.root.output(out).print(verified.manifest(), table(verified.manifest()));
      if (snapshot.root.output == Output.Format.table) {
        out.println("verified: " + file);
        out.flush();
      }
      return 0;
    }
  }

  @Command(
      name = "restore",
      mixinStandardHelpOptions = true,
      description = {
        "Builds member --member's data directory --data-dir for a NEW cluster of --peers from"
            + " FILE. Run it once per member, with the same FILE, --peers and --cluster-token, then"
            + " start every member with its config listing the same members.",
        "History before the snapshot's revision is compacted; the new cluster's Raft groups are"
            + " salted with the cluster token, so they never hear the old cluster's members."
      })
  static final class Restore implements Callable<Integer> {
    @ParentCommand SnapshotCommand snapshot;
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "A snapshot file.")
    Path file;

    @Mixin NewMember newMember;

    @Override
    public Integer call() throws IOException {
      existing(spec, file);
      List<RestoredMember.Peer> voters = newMember.check(spec, "");
      SnapshotFile.Verified verified = verify(file);
      SnapshotManifest m = verified.manifest();
      NewMember.Written written =
          newMember.write(verified.state(), voters, m.getRegion(), () -> defaultToken(m));
      var out = spec.commandLine().getOut();
      snapshot
          .root
          .output(out)
          .print(
              m,
              new Output.Table(
                      "MEMBER", "SHARD", "REVISION", "REGION", "CLUSTER_TOKEN", "DATA_DIR", "GROUP")
                  .row(
                      newMember.member,
                      m.getShard(),
                      m.getRevision(),
                      written.region(),
                      written.token(),
                      newMember.dataDir,
                      written.group().getFileName()));
      return 0;
    }

    /** {@code s-} and the first 16 hex digits of the body's SHA-256: equal for one file. */
    static String defaultToken(SnapshotManifest m) {
      return "s-" + hex(m.getBodySha256().toByteArray()).substring(0, 16);
    }
  }
}
