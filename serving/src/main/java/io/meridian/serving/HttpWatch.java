package io.meridian.serving;

import static java.util.Objects.requireNonNull;

import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import com.linecorp.armeria.server.annotation.Description;
import com.linecorp.armeria.server.annotation.Post;

/**
 * {@code POST /v1/watch} and {@code POST /v1/registry/watch}, the HTTP forms of the watch streams
 * on nodes and routers, registered as an annotated service ({@code server.annotatedService(new
 * HttpWatch(watch, registryWatch))}) so that {@code /docs} lists them beside the gRPC services and
 * a wrong method is answered like on every other path.
 */
@Description(
    "Watches over HTTP for curl users: one watch per request, its responses as JSON lines "
        + "(application/x-ndjson) until the client hangs up. gRPC clients use the "
        + "meridian.v1.Watch/Watch and meridian.v1.Registry/WatchService streams instead.")
public final class HttpWatch {
  /** The path the key watch is served at. */
  public static final String PATH = "/v1/watch";

  /** The path the registry's service watch is served at. */
  public static final String REGISTRY_PATH = "/v1/registry/watch";

  private final HttpService watch;
  private final HttpService registryWatch;

  /** Serves {@code watch} at {@link #PATH} and {@code registryWatch} at {@link #REGISTRY_PATH}. */
  public HttpWatch(HttpService watch, HttpService registryWatch) {
    this.watch = requireNonNull(watch, "watch");
    this.registryWatch = requireNonNull(registryWatch, "registryWatch");
  }

  /** Starts one watch of keys. */
  @Post(PATH)
  @Description(
      "The body is a meridian.v1.WatchCreateRequest in JSON, e.g. "
          + "{\"key\":\"/demo/\",\"prefix\":true,\"startRevision\":\"1\",\"progressNotify\":true}; "
          + "each line of the answer is a meridian.v1.WatchResponse in JSON. A refused request is "
          + "answered with an error body {code, message, details}; a watch that fails later ends "
          + "with a response that has canceled: true and the error.")
  public HttpResponse watch(ServiceRequestContext ctx, HttpRequest req) throws Exception {
    return watch.serve(ctx, req);
  }

  /** Starts one watch of a service's instances. */
  @Post(REGISTRY_PATH)
  @Description(
      "The body is a meridian.v1.WatchServiceRequest in JSON, e.g. "
          + "{\"namespace\":\"demo\",\"service\":\"payments\"}; each line of the answer is a "
          + "meridian.v1.WatchServiceResponse in JSON: first (unless startRevision is set) the "
          + "instance set with snapshot: true, then events of type UP, UPDATED or DOWN, each with "
          + "the instance (and prevInstance, the one replaced or removed) as JSON objects, and "
          + "progress notifications. A refused request is answered with an error body "
          + "{code, message, details}; a watch that fails later ends with a line that carries "
          + "the error.")
  public HttpResponse registryWatch(ServiceRequestContext ctx, HttpRequest req) throws Exception {
    return registryWatch.serve(ctx, req);
  }
}
