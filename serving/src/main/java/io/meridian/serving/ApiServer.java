package io.meridian.serving;

import com.google.protobuf.Descriptors.FileDescriptor;
import com.linecorp.armeria.common.grpc.GrpcJsonMarshaller;
import com.linecorp.armeria.common.metric.MeterIdPrefixFunction;
import com.linecorp.armeria.server.ServerBuilder;
import com.linecorp.armeria.server.docs.DocService;
import com.linecorp.armeria.server.grpc.GrpcService;
import com.linecorp.armeria.server.grpc.GrpcServiceBuilder;
import com.linecorp.armeria.server.grpc.HttpJsonTranscodingOptions;
import com.linecorp.armeria.server.healthcheck.HealthCheckService;
import com.linecorp.armeria.server.healthcheck.HealthChecker;
import com.linecorp.armeria.server.metric.MetricCollectingService;
import com.linecorp.armeria.server.prometheus.PrometheusExpositionService;
import io.grpc.BindableService;
import io.grpc.protobuf.ProtoFileDescriptorSupplier;
import io.meridian.api.Limits;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.ArrayList;
import java.util.List;

/**
 * The one way a Meridian process serves its API: gRPC and HTTP/JSON ({@code /v1/...}) from the same
 * services, Meridian errors on both surfaces ({@link GrpcErrors}), strict JSON bodies (one parse,
 * unknown fields refused; {@link JsonRequests}), request metrics, {@code /health}, {@code /metrics}
 * (Prometheus, from {@link #newMeterRegistry()}) and {@code /docs}. JSON answers include fields at
 * their default values. Nodes and routers differ only in the services they pass.
 *
 * <pre>{@code
 * Server server =
 *     ApiServer.serve(Server.builder().http(port), List.of(new KvService(...)), metrics, "meridian.request")
 *         .build();
 * }</pre>
 */
public final class ApiServer {
  private ApiServer() {}

  /**
   * The port {@code server} listens on. Armeria's {@code activeLocalPort()} counts only wildcard
   * and loopback ports, so it fails for a server bound to one interface's address, as real
   * deployments are.
   *
   * @throws IllegalStateException if the server does not listen
   */
  public static int port(com.linecorp.armeria.server.Server server) {
    return server.activePorts().values().stream()
        .findFirst()
        .map(p -> p.localAddress().getPort())
        .orElseThrow(() -> new IllegalStateException("the server does not listen on any port"));
  }

  /**
   * A new registry for a process's meters, as {@code /metrics} serves them: the meters Armeria
   * builds under Meridian's names are described and carry no client-side percentiles (see {@link
   * RequestMeterDescriptions}). Create it before any meter is registered.
   */
  public static PrometheusMeterRegistry newMeterRegistry() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    registry.config().meterFilter(new RequestMeterDescriptions());
    return registry;
  }

  /**
   * Adds {@code services} and the standard endpoints to {@code server}. Requests are counted under
   * {@code meterPrefix} by service, method and status; {@code /health} answers 503 while any of
   * {@code health} is unhealthy.
   */
  public static ServerBuilder serve(
      ServerBuilder server,
      List<? extends BindableService> services,
      PrometheusMeterRegistry metrics,
      String meterPrefix,
      HealthChecker... health) {
    GrpcServiceBuilder grpc = GrpcService.builder();
    List<FileDescriptor> files = new ArrayList<>();
    for (BindableService service : services) {
      grpc.addService(service);
      Object schema = service.bindService().getServiceDescriptor().getSchemaDescriptor();
      if (schema instanceof ProtoFileDescriptorSupplier supplier
          && !files.contains(supplier.getFileDescriptor())) {
        files.add(supplier.getFileDescriptor());
      }
    }
    grpc.enableHttpJsonTranscoding(
            HttpJsonTranscodingOptions.builder()
                .errorHandler(GrpcErrors.httpErrorHandler())
                .build())
        // One strict parse of each JSON body: an unknown field is an error, not silently dropped;
        // a refused body is explained field by field. Answers print every field, zeros too:
        // proto3 JSON drops "shard": 0 and "revision": 0, and readers could not tell zero from
        // absent.
        .jsonMarshallerFactory(
            service ->
                new ExplainingJsonMarshaller(
                    GrpcJsonMarshaller.builder()
                        .jsonMarshallerCustomizer(
                            json ->
                                json.ignoringUnknownFields(false).includingDefaultValueFields(true))
                        .build(service)))
        .exceptionHandler(GrpcErrors.exceptionHandler())
        // The services enforce Limits.MAX_REQUEST_BYTES on the decoded request; the transport
        // also carries the JSON form, where a largest value takes a third more room in base64.
        .maxRequestMessageLength(Limits.MAX_REQUEST_BYTES * 3 / 2);
    return server
        .meterRegistry(metrics)
        // JSON carries values as base64: room for a largest value plus its encoding overhead.
        .maxRequestLength(Limits.MAX_REQUEST_BYTES * 3L / 2)
        .decorator(new JsonRequests(files))
        .errorHandler(GrpcErrors.serverErrors())
        .service(
            grpc.build(),
            MetricCollectingService.newDecorator(MeterIdPrefixFunction.ofDefault(meterPrefix)))
        // Long polling needs listenable checkers; ours are polled.
        .service("/health", HealthCheckService.builder().checkers(health).longPolling(0).build())
        .service("/metrics", PrometheusExpositionService.of(metrics.getPrometheusRegistry()))
        .serviceUnder("/docs", DocService.builder().build());
  }
}
