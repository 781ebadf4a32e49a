package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.SnapshotChunk;
import io.meridian.api.v1.SnapshotManifest;
import io.meridian.api.v1.SnapshotStreamRequest;
import io.meridian.cluster.DevCluster;
import io.meridian.cluster.backup.SnapshotFile;
import io.meridian.cluster.backup.SnapshotSender;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code Cluster.SnapshotStream} on a real 3-member cluster taking writes. */
@Tag("cluster")
class SnapshotStreamTest {
  @TempDir Path dir;

  /** Keys of 100 KB, so the body takes several 1 MiB chunks. */
  private static void fill(KVGrpc.KVBlockingStub kv, int keys) {
    ByteString value = ByteString.copyFrom(new byte[100_000]);
    for (int i = 0; i < keys; i++) {
      kv.put(PutRequest.newBuilder().setKey("/big/k" + i).setValue(value).build());
    }
  }

  /** Puts small keys from a thread of its own until closed; counts what was acknowledged. */
  private static final class Writer implements AutoCloseable {
    final AtomicLong acknowledged = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Thread thread;

    Writer(KVGrpc.KVBlockingStub kv) {
      thread =
          new Thread(
              () -> {
                for (int i = 0; !stop.get(); i++) {
                  kv.put(
                      PutRequest.newBuilder()
                          .setKey("/w/k" + (i % 50))
                          .setValue(ByteString.copyFromUtf8("v" + i))
                          .build());
                  acknowledged.incrementAndGet();
                }
              },
              "writer");
      thread.start();
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      thread.join(30_000);
    }
  }

  private static ClusterGrpc.ClusterBlockingStub blocking(String url) {
    return GrpcClients.builder(url)
        .responseTimeout(Duration.ZERO)
        .maxResponseLength(0)
        .build(ClusterGrpc.ClusterBlockingStub.class);
  }

  @Test
  void aFollowerStreamsAConsistentSnapshotWhileWritesGoOnAtTheReadersPace() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      int follower = (leader + 1) % 3;
      KVGrpc.KVBlockingStub kv =
          GrpcClients.newClient(cluster.node(leader).clientUrl(), KVGrpc.KVBlockingStub.class);
      fill(kv, 30);
      ShardReplica replica = cluster.node(follower).replicas().get(0);
      Path file = dir.resolve("s0" + SnapshotFile.SUFFIX);
      try (Writer writer = new Writer(kv)) {
        await().atMost(Duration.ofSeconds(30)).until(() -> writer.acknowledged.get() > 20);
        Iterator<SnapshotChunk> chunks =
            blocking(cluster.node(follower).clientUrl())
                .snapshotStream(SnapshotStreamRequest.getDefaultInstance());
        SnapshotChunk first = chunks.next();
        assertThat(first.hasManifest()).isTrue();
        SnapshotManifest manifest = first.getManifest();
        assertThat(manifest.getMember()).isEqualTo(cluster.configs().get(follower).member());
        assertThat(manifest.getRegion()).isEqualTo("test");
        assertThat(manifest.getCreatedMs()).isPositive();
        // The reader holds the stream (flow control); the member goes on applying meanwhile.
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> replica.read(s -> s.revision()) > manifest.getRevision() + 20);
        try (SnapshotFile.Writer out = SnapshotFile.create(file)) {
          int dataChunks = 0;
          SnapshotChunk chunk;
          while ((chunk = chunks.next()).hasData()) {
            assertThat(chunk.getData().size()).isLessThanOrEqualTo(SnapshotSender.CHUNK_BYTES);
            chunk.getData().writeTo(out.body());
            dataChunks++;
          }
          assertThat(chunk.hasEnd()).isTrue();
          assertThat(chunks.hasNext()).isFalse();
          assertThat(dataChunks).isGreaterThan(2);
          out.finish(manifest, chunk.getEnd().getBodySha256().toByteArray());
        }
      }
      SnapshotFile.Verified verified = SnapshotFile.verify(file);
      assertThat(verified.state().revision()).isEqualTo(verified.manifest().getRevision());
      assertThat(
              verified
                  .state()
                  .range(io.meridian.api.v1.RangeRequest.newBuilder().setKey("/big/k29").build())
                  .getKvsCount())
          .isEqualTo(1);
    }
  }

  @Test
  void aStreamCancelledHalfWayLeavesTheMemberServingAndStreaming() throws Exception {
    try (DevCluster cluster = TestClusters.start(dir)) {
      int leader = TestClusters.awaitReady(cluster);
      KVGrpc.KVBlockingStub kv =
          GrpcClients.newClient(cluster.node(leader).clientUrl(), KVGrpc.KVBlockingStub.class);
      fill(kv, 30);
      String url = cluster.node(leader).clientUrl();
      ClusterGrpc.ClusterStub async =
          GrpcClients.builder(url)
              .responseTimeout(Duration.ZERO)
              .maxResponseLength(0)
              .build(ClusterGrpc.ClusterStub.class);
      AtomicInteger received = new AtomicInteger();
      CompletableFuture<Throwable> ended = new CompletableFuture<>();
      async.snapshotStream(
          SnapshotStreamRequest.getDefaultInstance(),
          new ClientResponseObserver<SnapshotStreamRequest, SnapshotChunk>() {
            ClientCallStreamObserver<SnapshotStreamRequest> call;

            @Override
            public void beforeStart(ClientCallStreamObserver<SnapshotStreamRequest> c) {
              call = c;
            }

            @Override
            public void onNext(SnapshotChunk chunk) {
              if (received.incrementAndGet() == 2) {
                call.cancel("half way", null);
              }
            }

            @Override
            public void onError(Throwable t) {
              ended.complete(t);
            }

            @Override
            public void onCompleted() {
              ended.complete(null);
            }
          });
      assertThat(ended.get(60, TimeUnit.SECONDS)).as("cancelled, not completed").isNotNull();

      // Writes go on, and the next stream is whole.
      try (Writer writer = new Writer(kv)) {
        await().atMost(Duration.ofSeconds(30)).until(() -> writer.acknowledged.get() > 20);
        List<SnapshotChunk> all = new ArrayList<>();
        blocking(url)
            .snapshotStream(SnapshotStreamRequest.getDefaultInstance())
            .forEachRemaining(all::add);
        assertThat(all.get(0).hasManifest()).isTrue();
        assertThat(all.get(all.size() - 1).hasEnd()).isTrue();
        long bytes =
            all.stream().filter(SnapshotChunk::hasData).mapToLong(c -> c.getData().size()).sum();
        assertThat(bytes).isEqualTo(all.get(all.size() - 1).getEnd().getBodyBytes());
        long before = writer.acknowledged.get();
        await().atMost(Duration.ofSeconds(30)).until(() -> writer.acknowledged.get() > before + 20);
      }
    }
  }
}
