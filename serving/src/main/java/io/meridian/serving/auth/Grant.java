package io.meridian.serving.auth;

/**
 * A permission a role grants: on every namespace whose name starts with {@code prefix} (empty: all
 * of them), or cluster-wide for {@link Permission#ADMIN}, whose prefix is always empty.
 */
public record Grant(Permission permission, String prefix) {
  public Grant {
    if (permission == null || prefix == null) {
      throw new IllegalArgumentException("a grant names a permission and a prefix");
    }
    if (!permission.perNamespace() && !prefix.isEmpty()) {
      throw new IllegalArgumentException(
          "`admin` is cluster-wide: it takes no namespace prefix (got `" + prefix + "`)");
    }
  }

  /** A cluster-wide grant of {@code permission}, or on every namespace. */
  public static Grant everywhere(Permission permission) {
    return new Grant(permission, "");
  }

  /**
   * Whether it lets a caller use {@code wanted} on {@code namespace} (ignored for admin). The same
   * test answers for a span: given the start every namespace of a span shares ({@code team} for a
   * prefix read of {@code /team}, empty for all keys), it covers the span exactly when it covers
   * every namespace the span can touch.
   */
  public boolean covers(Permission wanted, String namespace) {
    return permission == wanted && (!wanted.perNamespace() || namespace.startsWith(prefix));
  }
}
