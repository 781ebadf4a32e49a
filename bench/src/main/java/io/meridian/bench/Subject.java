package io.meridian.bench;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.client.grpc.GrpcClientBuilder;
import com.linecorp.armeria.client.grpc.GrpcClients;
import com.linecorp.armeria.common.HttpMethod;
import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.MediaType;
import com.linecorp.armeria.common.SessionProtocol;
import io.grpc.stub.StreamObserver;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Event;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.WatchCreateRequest;
import io.meridian.api.v1.WatchGrpc;
import io.meridian.api.v1.WatchRequest;
import io.meridian.api.v1.WatchResponse;
import java.net.URI;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One system under test over one protocol, as the comparison drives it: the same operations, the
 * same keys and values, on member {@code m} (an index into the system's members).
 *
 * <p>The four implementations (each system over gRPC and over JSON) stand side by side in this file
 * on purpose, longer than our other classes: whether both systems are asked the same thing is
 * checked by reading each operation next to its counterpart.
 */
interface Subject {
  Duration TIMEOUT = Duration.ofSeconds(30);

  /** What the table calls it: "etcd", "Meridian". */
  String system();

  /** "gRPC" or "JSON". */
  String protocol();

  CompletableFuture<?> put(int m, String key, ByteString value);

  CompletableFuture<?> range(int m, String key, boolean linearizable);

  /** Grants a lease (a session) of {@code ttlSeconds} through member {@code m}; its id. */
  CompletableFuture<Long> grant(int m, long ttlSeconds);

  /** One acquire of lock {@code name} by {@code lease}, then its release. */
  CompletableFuture<?> lockPair(int m, String name, long lease);

  /**
   * Opens one watch stream on member {@code m} carrying {@code watches} watches of every key under
   * {@code prefix}; each event's key goes to {@code onKey}, once per watch that saw it. Completes,
   * with what closes the stream, once the member has created every watch.
   */
  CompletableFuture<AutoCloseable> watch(int m, String prefix, int watches, Consumer<String> onKey);

  /** Meridian over gRPC, through Armeria's stubs (as the client library calls it). */
  static Subject meridianGrpc(List<String> urls) {
    Endpoints endpoints = Endpoints.of(urls);
    return new Subject() {
      @Override
      public String system() {
        return "Meridian";
      }

      @Override
      public String protocol() {
        return "gRPC";
      }

      @Override
      public CompletableFuture<?> put(int m, String key, ByteString value) {
        return Endpoints.call(
            endpoints.nodes().get(m).kv()::put,
            PutRequest.newBuilder().setKey(key).setValue(value).build());
      }

      @Override
      public CompletableFuture<?> range(int m, String key, boolean linearizable) {
        return Endpoints.call(
            endpoints.nodes().get(m).kv()::range,
            RangeRequest.newBuilder()
                .setKey(key)
                .setConsistency(linearizable ? Consistency.LINEARIZABLE : Consistency.SERIALIZABLE)
                .build());
      }

      @Override
      public CompletableFuture<Long> grant(int m, long ttlSeconds) {
        return Endpoints.call(
                endpoints.nodes().get(m).lease()::grant,
                LeaseGrantRequest.newBuilder().setNamespace("bench").setTtl(ttlSeconds).build())
            .thenApply(r -> r.getId());
      }

      @Override
      public CompletableFuture<?> lockPair(int m, String name, long lease) {
        Endpoints.Node node = endpoints.nodes().get(m);
        return Endpoints.call(
                node.lock()::acquire,
                LockAcquireRequest.newBuilder().setName(name).setLease(lease).build())
            .thenCompose(
                granted ->
                    Endpoints.call(
                        node.lock()::release,
                        LockReleaseRequest.newBuilder().setName(name).setLease(lease).build()));
      }

      @Override
      public CompletableFuture<AutoCloseable> watch(
          int m, String prefix, int watches, Consumer<String> onKey) {
        WatchGrpc.WatchStub stub =
            streaming(endpoints.nodes().get(m).url()).build(WatchGrpc.WatchStub.class);
        CreatedWatches created = new CreatedWatches(watches);
        StreamObserver<WatchRequest> requests =
            stub.watch(
                created.observer(
                    (WatchResponse r) -> {
                      if (r.getCreated()) {
                        created.one();
                      }
                      for (Event e : r.getEventsList()) {
                        onKey.accept(e.getKv().getKey());
                      }
                    }));
        for (int w = 1; w <= watches; w++) {
          requests.onNext(
              WatchRequest.newBuilder()
                  .setCreateRequest(
                      WatchCreateRequest.newBuilder().setKey(prefix).setPrefix(true).setWatchId(w))
                  .build());
        }
        return created.done().thenApply(v -> created.closer(requests));
      }
    };
  }

  /** etcd over gRPC: etcd's own generated stubs, called through Armeria like Meridian's. */
  static Subject etcdGrpc(List<String> urls) {
    List<io.etcd.jetcd.api.KVGrpc.KVStub> kv =
        urls.stream().map(u -> builder(u).build(io.etcd.jetcd.api.KVGrpc.KVStub.class)).toList();
    List<io.etcd.jetcd.api.LeaseGrpc.LeaseStub> lease =
        urls.stream()
            .map(u -> builder(u).build(io.etcd.jetcd.api.LeaseGrpc.LeaseStub.class))
            .toList();
    List<io.etcd.jetcd.api.lock.LockGrpc.LockStub> lock =
        urls.stream()
            .map(u -> builder(u).build(io.etcd.jetcd.api.lock.LockGrpc.LockStub.class))
            .toList();
    return new Subject() {
      @Override
      public String system() {
        return "etcd";
      }

      @Override
      public String protocol() {
        return "gRPC";
      }

      @Override
      public CompletableFuture<?> put(int m, String key, ByteString value) {
        return Endpoints.call(
            kv.get(m)::put,
            io.etcd.jetcd.api.PutRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setValue(value)
                .build());
      }

      @Override
      public CompletableFuture<?> range(int m, String key, boolean linearizable) {
        return Endpoints.call(
            kv.get(m)::range,
            io.etcd.jetcd.api.RangeRequest.newBuilder()
                .setKey(ByteString.copyFromUtf8(key))
                .setSerializable(!linearizable)
                .build());
      }

      @Override
      public CompletableFuture<Long> grant(int m, long ttlSeconds) {
        return Endpoints.call(
                lease.get(m)::leaseGrant,
                io.etcd.jetcd.api.LeaseGrantRequest.newBuilder().setTTL(ttlSeconds).build())
            .thenApply(r -> r.getID());
      }

      @Override
      public CompletableFuture<?> lockPair(int m, String name, long leaseId) {
        return Endpoints.call(
                lock.get(m)::lock,
                io.etcd.jetcd.api.lock.LockRequest.newBuilder()
                    .setName(ByteString.copyFromUtf8(name))
                    .setLease(leaseId)
                    .build())
            .thenCompose(
                held ->
                    Endpoints.call(
                        lock.get(m)::unlock,
                        io.etcd.jetcd.api.lock.UnlockRequest.newBuilder()
                            .setKey(held.getKey())
                            .build()));
      }

      @Override
      public CompletableFuture<AutoCloseable> watch(
          int m, String prefix, int watches, Consumer<String> onKey) {
        io.etcd.jetcd.api.WatchGrpc.WatchStub stub =
            streaming(urls.get(m)).build(io.etcd.jetcd.api.WatchGrpc.WatchStub.class);
        CreatedWatches created = new CreatedWatches(watches);
        StreamObserver<io.etcd.jetcd.api.WatchRequest> requests =
            stub.watch(
                created.observer(
                    (io.etcd.jetcd.api.WatchResponse r) -> {
                      if (r.getCreated()) {
                        created.one();
                      }
                      for (io.etcd.jetcd.api.Event e : r.getEventsList()) {
                        onKey.accept(e.getKv().getKey().toStringUtf8());
                      }
                    }));
        ByteString from = ByteString.copyFromUtf8(prefix);
        ByteString to = ByteString.copyFromUtf8(prefixEnd(prefix));
        // etcd 3.4's API has no caller-chosen watch ids; it numbers a stream's watches itself.
        for (int w = 1; w <= watches; w++) {
          requests.onNext(
              io.etcd.jetcd.api.WatchRequest.newBuilder()
                  .setCreateRequest(
                      io.etcd.jetcd.api.WatchCreateRequest.newBuilder()
                          .setKey(from)
                          .setRangeEnd(to))
                  .build());
        }
        return created.done().thenApply(v -> created.closer(requests));
      }
    };
  }

  /** Meridian's JSON gateway over HTTP/1.1. */
  static Subject meridianJson(List<String> urls) {
    List<WebClient> http = urls.stream().map(Subject::web).toList();
    return new Json("Meridian", http) {
      @Override
      String putPath() {
        return "/v1/kv/put";
      }

      @Override
      String putBody(String key, ByteString value) {
        return "{\"key\":\"" + key + "\",\"value\":\"" + b64(value) + "\"}";
      }

      @Override
      String rangePath() {
        return "/v1/kv/range";
      }

      @Override
      String rangeBody(String key, boolean linearizable) {
        return "{\"key\":\""
            + key
            + "\",\"consistency\":\""
            + (linearizable ? "LINEARIZABLE" : "SERIALIZABLE")
            + "\"}";
      }
    };
  }

  /** etcd's JSON gateway (grpc-gateway, {@code /v3/...}) over HTTP/1.1. */
  static Subject etcdJson(List<String> urls) {
    List<WebClient> http = urls.stream().map(Subject::web).toList();
    return new Json("etcd", http) {
      @Override
      String putPath() {
        return "/v3/kv/put";
      }

      @Override
      String putBody(String key, ByteString value) {
        return "{\"key\":\""
            + b64(ByteString.copyFromUtf8(key))
            + "\",\"value\":\""
            + b64(value)
            + "\"}";
      }

      @Override
      String rangePath() {
        return "/v3/kv/range";
      }

      @Override
      String rangeBody(String key, boolean linearizable) {
        return "{\"key\":\""
            + b64(ByteString.copyFromUtf8(key))
            + "\",\"serializable\":"
            + !linearizable
            + "}";
      }
    };
  }

  private static GrpcClientBuilder builder(String url) {
    return GrpcClients.builder(url).responseTimeout(TIMEOUT);
  }

  /** A client for a stream that lives as long as the run. */
  private static GrpcClientBuilder streaming(String url) {
    return GrpcClients.builder(url).responseTimeoutMillis(0).maxResponseLength(0);
  }

  /** The end of the range of keys that begin with {@code prefix} (ASCII prefixes). */
  private static String prefixEnd(String prefix) {
    char last = prefix.charAt(prefix.length() - 1);
    return prefix.substring(0, prefix.length() - 1) + (char) (last + 1);
  }

  /** Counts a stream's watches as the member confirms them; fails if the stream fails. */
  final class CreatedWatches {
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private final AtomicInteger missing;
    private volatile boolean closing;

    CreatedWatches(int watches) {
      missing = new AtomicInteger(watches);
    }

    void one() {
      if (missing.decrementAndGet() == 0) {
        done.complete(null);
      }
    }

    /** Ends the stream from this side; its failure after that is expected and not reported. */
    AutoCloseable closer(StreamObserver<?> requests) {
      return () -> {
        closing = true;
        requests.onCompleted();
      };
    }

    CompletableFuture<Void> done() {
      return done.orTimeout(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }

    <R> StreamObserver<R> observer(Consumer<R> onResponse) {
      return new StreamObserver<>() {
        @Override
        public void onNext(R response) {
          onResponse.accept(response);
        }

        @Override
        public void onError(Throwable t) {
          if (!done.completeExceptionally(t) && !closing) {
            System.err.println("bench: a watch stream failed: " + Endpoints.describe(t));
          }
        }

        @Override
        public void onCompleted() {
          done.completeExceptionally(new IllegalStateException("the watch stream ended"));
        }
      };
    }
  }

  private static WebClient web(String url) {
    URI u = URI.create(url);
    return WebClient.builder(
            SessionProtocol.H1C, com.linecorp.armeria.client.Endpoint.of(u.getHost(), u.getPort()))
        .responseTimeout(TIMEOUT)
        .build();
  }

  /** The JSON gateways: a POST of a small JSON body; anything but 200 is a failure. */
  abstract class Json implements Subject {
    private final String system;
    private final List<WebClient> http;

    Json(String system, List<WebClient> http) {
      this.system = system;
      this.http = http;
    }

    abstract String putPath();

    abstract String putBody(String key, ByteString value);

    abstract String rangePath();

    abstract String rangeBody(String key, boolean linearizable);

    static String b64(ByteString bytes) {
      return Base64.getEncoder().encodeToString(bytes.toByteArray());
    }

    @Override
    public String system() {
      return system;
    }

    @Override
    public String protocol() {
      return "JSON";
    }

    @Override
    public CompletableFuture<?> put(int m, String key, ByteString value) {
      return post(m, putPath(), putBody(key, value));
    }

    @Override
    public CompletableFuture<?> range(int m, String key, boolean linearizable) {
      return post(m, rangePath(), rangeBody(key, linearizable));
    }

    @Override
    public CompletableFuture<Long> grant(int m, long ttlSeconds) {
      return CompletableFuture.failedFuture(
          new UnsupportedOperationException("locks are compared over gRPC only"));
    }

    @Override
    public CompletableFuture<?> lockPair(int m, String name, long lease) {
      return CompletableFuture.failedFuture(
          new UnsupportedOperationException("locks are compared over gRPC only"));
    }

    @Override
    public CompletableFuture<AutoCloseable> watch(
        int m, String prefix, int watches, Consumer<String> onKey) {
      return CompletableFuture.failedFuture(
          new UnsupportedOperationException("watches are compared over gRPC only"));
    }

    private CompletableFuture<?> post(int m, String path, String body) {
      return http.get(m)
          .execute(HttpRequest.of(HttpMethod.POST, path, MediaType.JSON_UTF_8, body))
          .aggregate()
          .thenApply(
              r -> {
                if (r.status().code() != 200) {
                  throw new IllegalStateException(
                      path + ": HTTP " + r.status().code() + ": " + r.contentUtf8());
                }
                return r;
              });
    }
  }
}
