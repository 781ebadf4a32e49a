package io.meridian.client;

import io.meridian.api.MeridianException;

/**
 * Discovery could not answer: the registry was unreachable, nothing was cached or configured and
 * the service's policy is fail-closed; or {@link Discovery#choose} found no instance to call.
 *
 * <pre>{@code
 * try {
 *   Instance ledger = client.discovery().choose("shop", "ledger");
 * } catch (DiscoveryUnavailableException e) {
 *   return Response.status(503).entity("ledger unavailable: " + e.getMessage());
 * }
 * }</pre>
 */
public final class DiscoveryUnavailableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String service;

  DiscoveryUnavailableException(String service, MeridianException cause) {
    super("discovery of " + service + " unavailable: " + cause.getMessage(), cause);
    this.service = service;
  }

  /** The service, as {@code namespace/service}. */
  public String service() {
    return service;
  }
}
