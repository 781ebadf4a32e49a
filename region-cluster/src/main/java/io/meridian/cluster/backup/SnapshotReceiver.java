package io.meridian.cluster.backup;

import com.google.protobuf.ByteString;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.ResetFromSnapshotResponse;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SnapshotChunk;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.internal.Calls;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.ResetBegin;
import io.meridian.cluster.proto.ResetEnd;
import io.meridian.cluster.proto.ResetPart;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Receives a {@code ResetFromSnapshot} call: turns the snapshot chunks streamed in (manifest, data,
 * end) into {@code ResetBegin}, {@code ResetPart}s of at most 1 MiB and {@code ResetEnd}, proposed
 * one at a time through the shard's log, and answers with the state the reset left.
 *
 * <p>It asks the call for one chunk at a time and asks for the next once the previous one's
 * commands are applied, so a fast sender is held by gRPC flow control, not buffered here. A stream
 * that fails or ends before its end chunk abandons the staged reset, so replicated batches are not
 * held up by it (a later reset would drop it anyway).
 */
public final class SnapshotReceiver implements StreamObserver<SnapshotChunk> {
  private static final Logger log = LoggerFactory.getLogger(SnapshotReceiver.class);

  private final ShardReplica replica;
  private final String region;
  private final String member;
  private final ServerCallStreamObserver<ResetFromSnapshotResponse> call;
  // The chunks are handled one at a time (one is requested after the previous one's commands
  // applied); these are written by one and read by the next, which the future chain orders.
  private volatile CompletableFuture<Void> last = CompletableFuture.completedFuture(null);
  private volatile String resetId;
  private volatile SnapshotManifest manifest;
  private volatile long nextSeq;
  private volatile long revisionBefore;
  private volatile boolean ended;
  private volatile ResetFromSnapshotResponse response;
  private final Object failing = new Object();
  // Guarded by failing.
  private boolean failed;

  private SnapshotReceiver(
      ShardReplica replica,
      String region,
      String member,
      ServerCallStreamObserver<ResetFromSnapshotResponse> call) {
    this.replica = replica;
    this.region = region;
    this.member = member;
    this.call = call;
  }

  /**
   * The observer of a {@code ResetFromSnapshot} call on {@code replica}. Call it from the service
   * method itself: it takes over the call's flow control, which gRPC allows only there.
   */
  public static StreamObserver<SnapshotChunk> start(
      ShardReplica replica,
      String region,
      String member,
      ServerCallStreamObserver<ResetFromSnapshotResponse> call) {
    SnapshotReceiver receiver = new SnapshotReceiver(replica, region, member, call);
    call.disableAutoRequest();
    call.setOnCancelHandler(() -> receiver.fail(new CancellationOfCall()));
    call.request(1);
    return receiver;
  }

  @Override
  public void onNext(SnapshotChunk chunk) {
    CompletableFuture<Void> step;
    try {
      step = handle(chunk);
    } catch (RuntimeException e) {
      step = CompletableFuture.failedFuture(e);
    }
    last =
        step.whenComplete(
            (v, t) -> {
              if (t != null) {
                fail(t);
              } else {
                // Also after the end chunk: what follows is the end of the stream.
                call.request(1);
              }
            });
  }

  @Override
  public void onError(Throwable t) {
    fail(t);
  }

  @Override
  public void onCompleted() {
    last.whenComplete(
        (v, t) -> {
          ResetFromSnapshotResponse done = response;
          if (t != null) {
            return; // Failed already.
          }
          if (done == null) {
            fail(
                MeridianException.of(
                    Error.Code.INVALID_ARGUMENT,
                    "snapshot stream: ended before its end chunk (expected: manifest, data, end)"));
            return;
          }
          call.onNext(done);
          call.onCompleted();
        });
  }

  private CompletableFuture<Void> handle(SnapshotChunk chunk) {
    if (ended) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "snapshot stream: a chunk after the end chunk");
    }
    return switch (chunk.getPartCase()) {
      case MANIFEST -> begin(chunk.getManifest());
      case DATA -> data(chunk.getData());
      case END -> end(chunk.getEnd().getBodySha256(), chunk.getEnd().getBodyBytes());
      case PART_NOT_SET ->
          throw MeridianException.of(
              Error.Code.INVALID_ARGUMENT,
              "snapshot chunk: nothing set (expected: manifest, data" + " or end)");
    };
  }

  private CompletableFuture<Void> begin(SnapshotManifest m) {
    if (resetId != null) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "snapshot stream: a second manifest (expected: one, first)");
    }
    long[] facts = replica.read(s -> new long[] {s.revision(), s.epoch(), s.role().getNumber()});
    if (Role.forNumber((int) facts[2]) == Role.PRIMARY) {
      // The state refuses it too; refusing here spares streaming the body.
      throw MeridianException.of(
          Error.Code.FAILED_PRECONDITION,
          "shard %d: this region cluster is PRIMARY (expected: FENCED or STANDBY; a reset drops"
              + " the shard's state: fence it first)",
          replica.shard());
    }
    String id = UUID.randomUUID().toString();
    resetId = id;
    manifest = m;
    revisionBefore = facts[0];
    return propose(
            Command.newBuilder()
                .setResetBegin(ResetBegin.newBuilder().setResetId(id).setManifest(m))
                .build())
        .thenRun(
            () ->
                log.info(
                    "shard={} region={} member={} reset {} from a snapshot begins: revision={}"
                        + " epoch={}, snapshot of region {} at revision={} epoch={}",
                    replica.shard(),
                    region,
                    member,
                    id,
                    facts[0],
                    facts[1],
                    m.getRegion(),
                    m.getRevision(),
                    m.getEpoch()));
  }

  private CompletableFuture<Void> data(ByteString data) {
    if (resetId == null) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "snapshot stream: data before the manifest");
    }
    CompletableFuture<Void> parts = CompletableFuture.completedFuture(null);
    int partBytes = SnapshotSender.CHUNK_BYTES;
    for (int off = 0; off < data.size(); off += partBytes) {
      ByteString slice = data.substring(off, Math.min(data.size(), off + partBytes));
      parts =
          parts.thenCompose(
              v ->
                  propose(
                      Command.newBuilder()
                          .setResetPart(
                              ResetPart.newBuilder()
                                  .setResetId(resetId)
                                  .setSeq(nextSeq++)
                                  .setData(slice))
                          .build()));
    }
    return parts;
  }

  private CompletableFuture<Void> end(ByteString sha256, long bytes) {
    if (resetId == null) {
      throw MeridianException.of(
          Error.Code.INVALID_ARGUMENT, "snapshot stream: end before the manifest");
    }
    ended = true;
    Command command =
        Command.newBuilder()
            .setResetEnd(
                ResetEnd.newBuilder()
                    .setResetId(resetId)
                    .setBodySha256(sha256)
                    .setBodyBytes(bytes)
                    .setRole(Role.STANDBY)
                    .setEpoch(manifest.getEpoch()))
            .build();
    return Calls.propose(replica, command, r -> r.getResetFromSnapshot())
        .thenAccept(
            r -> {
              ResponseHeader h = r.getHeader();
              log.info(
                  "shard={} region={} member={} reset {} from a snapshot done: revision {} -> {},"
                      + " snapshot revision={}, STANDBY at epoch {}",
                  replica.shard(),
                  region,
                  member,
                  resetId,
                  revisionBefore,
                  h.getRevision(),
                  r.getManifest().getRevision(),
                  h.getEpoch());
              response = r;
            });
  }

  private CompletableFuture<Void> propose(Command command) {
    return replica.propose(command).thenAccept(Calls::ok);
  }

  /** Fails the call once; abandons the staged reset, if one was begun and not ended. */
  private void fail(Throwable t) {
    synchronized (failing) {
      if (failed) {
        return;
      }
      failed = true;
    }
    Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    String id = resetId;
    if (id != null && response == null) {
      log.warn(
          "shard={} region={} member={} reset {} from a snapshot failed, abandoning it: {}",
          replica.shard(),
          region,
          member,
          id,
          cause.getMessage());
      propose(
              Command.newBuilder()
                  .setResetEnd(ResetEnd.newBuilder().setResetId(id).setAbandon(true))
                  .build())
          .whenComplete(
              (v, e) -> {
                if (e != null) {
                  log.debug("shard={} reset {} not abandoned: {}", replica.shard(), id, e);
                }
              });
    }
    if (cause instanceof CancellationOfCall) {
      return;
    }
    call.onError(
        cause instanceof MeridianException
            ? cause
            : MeridianException.of(
                Error.Code.INTERNAL, "reset from a snapshot failed: %s", cause.toString()));
  }

  /** The caller cancelled the call: nothing is answered. */
  private static final class CancellationOfCall extends RuntimeException {
    CancellationOfCall() {
      super("the caller cancelled the call", null, false, false);
    }
  }
}
