package io.meridian.client;

import io.meridian.api.Limits;
import io.meridian.api.v1.DeregisterRequest;
import io.meridian.api.v1.DeregisterResponse;
import io.meridian.api.v1.DiscoverRequest;
import io.meridian.api.v1.DiscoverResponse;
import io.meridian.api.v1.HeartbeatRequest;
import io.meridian.api.v1.HeartbeatResponse;
import io.meridian.api.v1.ListServicesRequest;
import io.meridian.api.v1.ListServicesResponse;
import io.meridian.api.v1.RegisterRequest;
import io.meridian.api.v1.RegisterResponse;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.api.v1.SetHealthRequest;
import io.meridian.api.v1.SetHealthResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The service registry's calls, typed, sync and async. Every call is safe to retry: registering an
 * instance id again updates it in place. For discovery that degrades gracefully when the registry
 * is unreachable, use {@link Discovery}.
 *
 * <pre>{@code
 * client.registry().register(RegisterRequest.newBuilder()
 *     .setNamespace("shop").setService("payments").setInstanceId("p1")
 *     .setAddress("10.0.0.7").setPort(8080).setTtl(30).build());
 * }</pre>
 */
public final class RegistryClient {
  private final RegistryGrpc.RegistryStub stub;
  private final RegistryGrpc.RegistryStub waiting;
  private final Duration requestTimeout;

  RegistryClient(
      RegistryGrpc.RegistryStub stub, RegistryGrpc.RegistryStub waiting, Duration requestTimeout) {
    this.stub = stub;
    this.waiting = waiting;
    this.requestTimeout = requestTimeout;
  }

  public CompletableFuture<RegisterResponse> registerAsync(RegisterRequest request) {
    return Unary.call(stub::register, request, true);
  }

  public RegisterResponse register(RegisterRequest request) {
    return Unary.await(registerAsync(request));
  }

  public CompletableFuture<HeartbeatResponse> heartbeatAsync(HeartbeatRequest request) {
    return Unary.call(stub::heartbeat, request, true);
  }

  public HeartbeatResponse heartbeat(HeartbeatRequest request) {
    return Unary.await(heartbeatAsync(request));
  }

  public CompletableFuture<SetHealthResponse> setHealthAsync(SetHealthRequest request) {
    return Unary.call(stub::setHealth, request, true);
  }

  public SetHealthResponse setHealth(SetHealthRequest request) {
    return Unary.await(setHealthAsync(request));
  }

  public CompletableFuture<DeregisterResponse> deregisterAsync(DeregisterRequest request) {
    return Unary.call(stub::deregister, request, true);
  }

  public DeregisterResponse deregister(DeregisterRequest request) {
    return Unary.await(deregisterAsync(request));
  }

  /**
   * The instances of a service, straight from the registry (see {@link Discovery} for more). With
   * {@code wait_revision} set it is a blocking read: it may take its {@code wait_ms} (60 s when 0)
   * plus the client's request timeout.
   */
  public CompletableFuture<DiscoverResponse> discoverAsync(DiscoverRequest request) {
    long waitMs = Limits.discoverWaitMs(request);
    if (waitMs <= 0) {
      return Unary.call(stub::discover, request, true);
    }
    return Unary.call(
        waiting.withDeadlineAfter(waitMs + requestTimeout.toMillis(), TimeUnit.MILLISECONDS)
            ::discover,
        request,
        true);
  }

  public DiscoverResponse discover(DiscoverRequest request) {
    return Unary.await(discoverAsync(request));
  }

  public CompletableFuture<ListServicesResponse> listServicesAsync(ListServicesRequest request) {
    return Unary.call(stub::listServices, request, true);
  }

  public ListServicesResponse listServices(ListServicesRequest request) {
    return Unary.await(listServicesAsync(request));
  }
}
