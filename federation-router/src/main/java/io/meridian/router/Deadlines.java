package io.meridian.router;

import com.github.benmanes.caffeine.cache.Ticker;
import com.linecorp.armeria.common.util.TimeoutMode;
import com.linecorp.armeria.server.ServiceRequestContext;
import io.grpc.Deadline;
import java.util.concurrent.TimeUnit;

/**
 * The deadline of the request being served, passed on to the region cluster. A gRPC caller's own
 * deadline ({@code grpc-timeout}) is kept. Otherwise the router allows its upstream request
 * timeout, plus the wait a call asks for by design (a lock acquire's {@code timeout_ms}, a blocking
 * Discover's {@code wait_ms}). The router answers before its own server timeout, with a clear
 * {@code DEADLINE_EXCEEDED}, and never holds a request longer.
 */
final class Deadlines {
  /** Room between the upstream deadline and the router's own server timeout. */
  private static final long MARGIN_MS = 200;

  private Deadlines() {}

  /** {@code ticker} in the form gRPC deadlines take, so deadlines run on the router's clock. */
  static Deadline.Ticker ticker(Ticker ticker) {
    return new Deadline.Ticker() {
      @Override
      public long nanoTime() {
        return ticker.read();
      }
    };
  }

  static Deadline of(long requestTimeoutMs, long waitMs, Deadline.Ticker clock) {
    ServiceRequestContext ctx = ServiceRequestContext.currentOrNull();
    if (ctx != null && ctx.request().headers().contains("grpc-timeout")) {
      long callers = ctx.requestTimeoutMillis();
      if (callers > 0) {
        return Deadline.after(Math.max(1, callers - MARGIN_MS), TimeUnit.MILLISECONDS, clock);
      }
    }
    long ms = requestTimeoutMs + Math.max(0, waitMs);
    if (ctx != null) {
      ctx.setRequestTimeout(TimeoutMode.SET_FROM_NOW, java.time.Duration.ofMillis(ms + MARGIN_MS));
    }
    return Deadline.after(ms, TimeUnit.MILLISECONDS, clock);
  }
}
