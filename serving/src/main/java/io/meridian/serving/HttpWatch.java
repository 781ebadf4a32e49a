package io.meridian.serving;

import static java.util.Objects.requireNonNull;

import com.linecorp.armeria.common.HttpRequest;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.ServiceRequestContext;
import com.linecorp.armeria.server.annotation.Description;
import com.linecorp.armeria.server.annotation.Post;

/**
 * {@code POST /v1/watch}, the HTTP form of a watch on nodes and routers, registered as an annotated
 * service ({@code server.annotatedService(new HttpWatch(watch))}) so that {@code /docs} lists it
 * beside the gRPC services and a wrong method is answered like on every other path.
 */
@Description(
    "Watches over HTTP for curl users: one watch per request, its responses as JSON lines "
        + "(application/x-ndjson) until the client hangs up. gRPC clients use the "
        + "meridian.v1.Watch/Watch stream instead.")
public final class HttpWatch {
  /** The path the watch is served at. */
  public static final String PATH = "/v1/watch";

  private final HttpService watch;

  /** Serves {@code watch} at {@link #PATH}. */
  public HttpWatch(HttpService watch) {
    this.watch = requireNonNull(watch, "watch");
  }

  /** Starts one watch. */
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
}
