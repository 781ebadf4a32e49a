package io.meridian.cluster.backup;

import com.google.protobuf.ByteString;
import io.grpc.stub.ServerCallStreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.SnapshotBodyEnd;
import io.meridian.api.v1.SnapshotChunk;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.cluster.internal.NodeClock;
import io.meridian.cluster.state.ShardState;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends a frozen shard state on a {@code SnapshotStream} call: the manifest (without the body's
 * checksum and size), the body in chunks of at most {@value #CHUNK_BYTES} bytes, then the body's
 * SHA-256 and size.
 *
 * <p>The state is frozen by the caller where it is not being changed (O(1)); describing it (hashing
 * every key) and writing it run on {@code executor}, so applies go on meanwhile. Each chunk waits
 * for the call to be ready (gRPC flow control: a slow reader holds the sender, not memory), and a
 * cancelled call stops the sender at its next chunk. A reader that takes nothing for {@value
 * #STALL_SECONDS} s fails the call with UNAVAILABLE.
 */
public final class SnapshotSender {
  private static final Logger log = LoggerFactory.getLogger(SnapshotSender.class);

  /** The largest data chunk. */
  public static final int CHUNK_BYTES = 1 << 20;

  static final long STALL_SECONDS = 60;

  private final ServerCallStreamObserver<SnapshotChunk> call;
  private final NodeClock clock;
  private final Object readiness = new Object();
  // Guarded by readiness.
  private boolean cancelled;

  private SnapshotSender(ServerCallStreamObserver<SnapshotChunk> call, NodeClock clock) {
    this.call = call;
    this.clock = clock;
  }

  /**
   * Starts sending {@code frozen} on {@code call} from {@code executor}. Call it from the service
   * method itself: it registers the call's ready and cancel handlers, which gRPC takes only there.
   *
   * @param origin the manifest's {@code created_ms}, {@code region} and {@code member}
   */
  public static void start(
      ShardState.Frozen frozen,
      SnapshotManifest origin,
      ServerCallStreamObserver<SnapshotChunk> call,
      Executor executor,
      NodeClock clock) {
    SnapshotSender sender = new SnapshotSender(call, clock);
    call.setOnReadyHandler(sender::wake);
    call.setOnCancelHandler(sender::cancel);
    executor.execute(() -> sender.send(frozen, origin));
  }

  private void wake() {
    synchronized (readiness) {
      readiness.notifyAll();
    }
  }

  private void cancel() {
    synchronized (readiness) {
      cancelled = true;
      readiness.notifyAll();
    }
  }

  private void send(ShardState.Frozen frozen, SnapshotManifest origin) {
    SnapshotManifest manifest = frozen.describe().toBuilder().mergeFrom(origin).build();
    String where =
        "shard="
            + manifest.getShard()
            + " region="
            + manifest.getRegion()
            + " member="
            + manifest.getMember()
            + " revision="
            + manifest.getRevision();
    try {
      next(SnapshotChunk.newBuilder().setManifest(manifest).build());
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      Chunks body = new Chunks(sha);
      frozen.writeTo(body);
      body.flush();
      next(
          SnapshotChunk.newBuilder()
              .setEnd(
                  SnapshotBodyEnd.newBuilder()
                      .setBodySha256(ByteString.copyFrom(sha.digest()))
                      .setBodyBytes(body.total))
              .build());
      call.onCompleted();
      log.info("{} snapshot streamed: {} bytes", where, body.total);
    } catch (Cancelled e) {
      log.info("{} snapshot stream cancelled by the reader", where);
    } catch (MeridianException e) {
      log.warn("{} snapshot stream failed: {}", where, e.getMessage());
      call.onError(e);
    } catch (IOException | NoSuchAlgorithmException | RuntimeException e) {
      log.warn("{} snapshot stream failed: {}", where, e.toString());
      call.onError(
          MeridianException.of(Error.Code.INTERNAL, "snapshot stream failed: %s", e.toString()));
    }
  }

  /** Sends {@code chunk} once the call is ready for it. */
  private void next(SnapshotChunk chunk) throws InterruptedIOException {
    long deadline = clock.monotonicMillis() + TimeUnit.SECONDS.toMillis(STALL_SECONDS);
    synchronized (readiness) {
      while (!cancelled && !call.isReady()) {
        long left = deadline - clock.monotonicMillis();
        if (left <= 0) {
          throw MeridianException.of(
              Error.Code.UNAVAILABLE,
              "snapshot stream: the reader took nothing for %d s",
              STALL_SECONDS);
        }
        try {
          // Bounded: a ready signal racing the check above is caught on the next round.
          readiness.wait(Math.min(left, 100));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("snapshot stream interrupted");
        }
      }
      if (cancelled) {
        throw new Cancelled();
      }
    }
    call.onNext(chunk);
  }

  /** The reader cancelled the call: nothing more is sent. */
  private static final class Cancelled extends RuntimeException {
    Cancelled() {
      super(null, null, false, false);
    }
  }

  /** The body as data chunks of {@link #CHUNK_BYTES}, hashed and counted as they go. */
  private final class Chunks extends OutputStream {
    private final MessageDigest sha;
    private final byte[] buffer = new byte[CHUNK_BYTES];
    private int filled;
    private long total;

    Chunks(MessageDigest sha) {
      this.sha = sha;
    }

    @Override
    public void write(int b) throws IOException {
      if (filled == buffer.length) {
        flush();
      }
      buffer[filled++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      while (len > 0) {
        if (filled == buffer.length) {
          flush();
        }
        int n = Math.min(len, buffer.length - filled);
        System.arraycopy(b, off, buffer, filled, n);
        filled += n;
        off += n;
        len -= n;
      }
    }

    @Override
    public void flush() throws IOException {
      if (filled == 0) {
        return;
      }
      sha.update(buffer, 0, filled);
      total += filled;
      ByteString data = ByteString.copyFrom(buffer, 0, filled);
      filled = 0;
      next(SnapshotChunk.newBuilder().setData(data).build());
    }
  }
}
