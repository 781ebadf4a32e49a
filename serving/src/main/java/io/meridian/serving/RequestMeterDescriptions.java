package io.meridian.serving;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig;
import java.util.Map;

/**
 * Describes the meters Armeria builds under Meridian's names (request metrics under a prefix such
 * as {@code meridian.request}, circuit breaker metrics) so that every {@code meridian_} family has
 * a Prometheus HELP line, and drops the client-side percentiles Armeria gives its timers and
 * summaries: nine quantile series per method and status, which Prometheus cannot aggregate across
 * processes anyway. Meters Meridian builds itself carry their own descriptions; one without a
 * description and without a known Armeria suffix stays undescribed, so tests catch it.
 */
final class RequestMeterDescriptions implements MeterFilter {
  private static final String PREFIX = "meridian.";

  /** Armeria's meter names after the prefix; where one ends another, the longest match wins. */
  private static final Map<String, String> SUFFIXES =
      Map.ofEntries(
          Map.entry("actual.requests.attempts", "Attempts per request, retries included"),
          Map.entry("actual.requests", "Attempts made, retries included, by result"),
          Map.entry("actual.requests.failure", "Failed attempts, by cause"),
          Map.entry("active.requests", "Requests in flight"),
          Map.entry("request.duration", "Time the request took to transfer"),
          Map.entry("request.length", "Request body bytes"),
          Map.entry("response.duration", "Time the response took to transfer"),
          Map.entry("response.length", "Response body bytes"),
          Map.entry("total.duration", "Time from request start to response end"),
          Map.entry("timeouts", "Requests that timed out, by cause"),
          Map.entry("connection.acquisition.duration", "Time to get a connection"),
          Map.entry("dns.resolution.duration", "Time to resolve the endpoint's address"),
          Map.entry("socket.connect.duration", "Time to connect the socket"),
          Map.entry("pending.acquisition.duration", "Time waiting for a pending connection"),
          Map.entry("tls.handshake.duration", "Time of the TLS handshake"),
          Map.entry("rejected.requests", "Requests a circuit breaker rejected"),
          Map.entry("transitions", "Circuit breaker state changes, by new state"),
          Map.entry("state", "Circuit breaker state: 1 closed, 0.5 half open, 0 open"),
          Map.entry("requests", "Requests, by result"));

  @Override
  public Meter.Id map(Meter.Id id) {
    String name = id.getName();
    if (id.getDescription() != null || !name.startsWith(PREFIX)) {
      return id;
    }
    String description = null;
    int longest = -1;
    for (Map.Entry<String, String> e : SUFFIXES.entrySet()) {
      String suffix = e.getKey();
      if (name.endsWith("." + suffix) && suffix.length() > longest) {
        description = e.getValue();
        longest = suffix.length();
      }
    }
    return description == null
        ? id
        : new Meter.Id(name, Tags.of(id.getTags()), id.getBaseUnit(), description, id.getType());
  }

  @Override
  public DistributionStatisticConfig configure(Meter.Id id, DistributionStatisticConfig config) {
    if (!id.getName().startsWith(PREFIX)) {
      return config;
    }
    return DistributionStatisticConfig.builder().percentiles(new double[0]).build().merge(config);
  }
}
