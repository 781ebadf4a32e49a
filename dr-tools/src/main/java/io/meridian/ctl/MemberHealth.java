package io.meridian.ctl;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.WebClient;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** Members' own health checks ({@code GET /health}), asked all at once. */
final class MemberHealth {
  /** What a member answering 200 to its health check is. */
  static final String SERVING = "serving";

  private MemberHealth() {}

  /**
   * The health of each client URL: {@link #SERVING}, or why not ("unhealthy: 503", "unreachable:
   * Connection refused").
   */
  static Map<String, String> of(Collection<String> urls, Duration timeout, ClientFactory factory) {
    Map<String, CompletableFuture<String>> checks = new LinkedHashMap<>();
    for (String url : urls) {
      checks.computeIfAbsent(
          url,
          u ->
              WebClient.builder(u)
                  .factory(factory)
                  .responseTimeout(timeout)
                  .build()
                  .get("/health")
                  .aggregate()
                  .handle(
                      (r, e) ->
                          e != null
                              ? "unreachable: " + rootMessage(e)
                              : r.status().code() == 200
                                  ? SERVING
                                  : "unhealthy: " + r.status().code()));
    }
    Map<String, String> out = new LinkedHashMap<>();
    checks.forEach((url, f) -> out.put(url, f.join()));
    return out;
  }

  private static String rootMessage(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getMessage() == null ? "no answer" : root.getMessage();
  }
}
