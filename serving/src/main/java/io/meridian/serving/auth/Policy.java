package io.meridian.serving.auth;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Who may do what: roles (each a list of {@link Grant}s), the roles bound to each identity, and the
 * bearer tokens issued (kept as their {@link Tokens#hash}, each naming its identity). Immutable:
 * every change is a new policy with the next {@code version}, written whole to every shard
 * (decision 0024). A policy that is not {@code enabled} lets every call through: an open cluster.
 *
 * @param version increases with every change; the highest one a process has seen is in force
 * @param enabled whether calls are checked at all
 * @param roles role name to the grants it holds
 * @param bindings identity name to the names of its roles
 * @param tokens token hash to the identity it was issued to
 */
public record Policy(
    long version,
    boolean enabled,
    Map<String, List<Grant>> roles,
    Map<String, List<String>> bindings,
    Map<String, String> tokens) {

  /** No checks: what a cluster starts with. */
  public static final Policy OPEN = new Policy(0, false, Map.of(), Map.of(), Map.of());

  /** The name of the role that holds every permission everywhere. */
  public static final String ROOT_ROLE = "root";

  public Policy {
    roles = copy(roles);
    bindings = copy(bindings);
    tokens = Map.copyOf(tokens);
  }

  private static <V> Map<String, List<V>> copy(Map<String, List<V>> m) {
    Map<String, List<V>> out = new LinkedHashMap<>();
    m.forEach((k, v) -> out.put(k, List.copyOf(v)));
    return java.util.Collections.unmodifiableMap(out);
  }

  /**
   * The caller of a request: the identity its bearer token was issued to when it sent one (an
   * unknown or revoked token is refused, never ignored), else the common name of its client
   * certificate, else anonymous.
   *
   * @param certificateName the subject common name of the verified client certificate, or null
   * @param bearerToken the token of an {@code authorization: Bearer} header, or null
   * @throws MeridianException UNAUTHENTICATED for a token this policy does not know
   */
  public Identity identify(String certificateName, String bearerToken) {
    if (bearerToken != null && !bearerToken.isEmpty()) {
      String owner = tokens.get(Tokens.hash(bearerToken));
      if (owner == null) {
        throw MeridianException.of(
            Error.Code.UNAUTHENTICATED,
            "the bearer token is not known to this cluster (revoked, or never issued here)");
      }
      return new Identity(owner, Identity.Source.TOKEN);
    }
    if (certificateName != null && !certificateName.isEmpty()) {
      return new Identity(certificateName, Identity.Source.CERTIFICATE);
    }
    return Identity.ANONYMOUS;
  }

  /**
   * Lets the call through, or refuses it: UNAUTHENTICATED for an anonymous caller while checks are
   * on, PERMISSION_DENIED naming the first of {@code namespaces} the caller may not use with {@code
   * wanted} ({@link Permission#ADMIN} ignores them). Each entry is a namespace, or for a span of
   * keys over several, the start they all share (see {@link Grant#covers}).
   *
   * @throws MeridianException UNAUTHENTICATED or PERMISSION_DENIED
   */
  public void check(Identity who, Permission wanted, Collection<String> namespaces) {
    if (!enabled) {
      return;
    }
    if (who.anonymous()) {
      throw MeridianException.of(
          Error.Code.UNAUTHENTICATED,
          "this cluster checks its callers: present a client certificate from its CA or a bearer"
              + " token (authorization: Bearer %s...)",
          Tokens.PREFIX);
    }
    List<List<Grant>> held = new ArrayList<>();
    for (String role : bindings.getOrDefault(who.name(), List.of())) {
      held.add(roles.getOrDefault(role, List.of()));
    }
    if (!wanted.perNamespace()) {
      if (!allows(held, wanted, "")) {
        throw MeridianException.of(
            Error.Code.PERMISSION_DENIED,
            "%s lacks `%s` (cluster-wide): an admin can bind it to a role that grants it",
            who,
            wanted.label());
      }
      return;
    }
    for (String namespace : namespaces) {
      if (!allows(held, wanted, namespace)) {
        throw MeridianException.of(
            Error.Code.PERMISSION_DENIED,
            "%s lacks `%s` on namespace `%s`: an admin can bind it to a role that grants it",
            who,
            wanted.label(),
            namespace);
      }
    }
  }

  private static boolean allows(List<List<Grant>> held, Permission wanted, String namespace) {
    for (List<Grant> grants : held) {
      for (Grant g : grants) {
        if (g.covers(wanted, namespace)) {
          return true;
        }
      }
    }
    return false;
  }

  /** The roles bound to {@code identity}, empty if none. */
  public List<String> rolesOf(String identity) {
    return bindings.getOrDefault(identity, List.of());
  }

  /** Who a token hash was issued to, if it is known. */
  public Optional<String> ownerOf(String tokenHash) {
    return Optional.ofNullable(tokens.get(tokenHash));
  }

  // ---- Changes: each returns the next version ----

  /**
   * Checks on, with {@code admin} bound to the {@link #ROOT_ROLE}: a cluster is never left checking
   * callers with no one able to change the policy.
   */
  public Policy enable(String admin) {
    if (admin == null || admin.isBlank()) {
      throw new IllegalArgumentException("turning checks on names an admin identity");
    }
    return withRole(ROOT_ROLE, root()).bind(admin, ROOT_ROLE).next(true);
  }

  /** Checks off: an open cluster again (roles, bindings and tokens are kept). */
  public Policy disable() {
    return new Policy(version + 1, false, roles, bindings, tokens);
  }

  /** {@code name} now grants exactly {@code grants}. */
  public Policy withRole(String name, List<Grant> grants) {
    Map<String, List<Grant>> r = new LinkedHashMap<>(roles);
    r.put(name, grants);
    return new Policy(version + 1, enabled, r, bindings, tokens);
  }

  /** {@code identity} now also holds {@code role}. */
  public Policy bind(String identity, String role) {
    if (!roles.containsKey(role)) {
      throw new IllegalArgumentException("no role `" + role + "` (create it first)");
    }
    Map<String, List<String>> b = new LinkedHashMap<>(bindings);
    List<String> held = new ArrayList<>(b.getOrDefault(identity, List.of()));
    if (!held.contains(role)) {
      held.add(role);
    }
    b.put(identity, held);
    return new Policy(version + 1, enabled, roles, b, tokens);
  }

  /** A token issued to {@code identity}, of which the policy keeps {@code tokenHash}. */
  public Policy withToken(String tokenHash, String identity) {
    Map<String, String> t = new LinkedHashMap<>(tokens);
    t.put(tokenHash, identity);
    return new Policy(version + 1, enabled, roles, bindings, t);
  }

  /** Every token issued to {@code identity} revoked. */
  public Policy withoutTokensOf(String identity) {
    Map<String, String> t = new LinkedHashMap<>(tokens);
    t.values().removeIf(identity::equals);
    return new Policy(version + 1, enabled, roles, bindings, t);
  }

  private Policy next(boolean on) {
    return new Policy(version, on, roles, bindings, tokens);
  }

  private static List<Grant> root() {
    List<Grant> all = new ArrayList<>();
    for (Permission p : Permission.values()) {
      all.add(Grant.everywhere(p));
    }
    return all;
  }
}
