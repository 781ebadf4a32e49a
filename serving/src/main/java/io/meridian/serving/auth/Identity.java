package io.meridian.serving.auth;

/**
 * Who makes a call: the subject common name of the client certificate it presented, the identity
 * its bearer token was issued to, or nobody.
 *
 * @param name the identity's name; empty for an anonymous caller
 * @param source how it was told
 */
public record Identity(String name, Source source) {
  /** How a caller's identity was established. */
  public enum Source {
    CERTIFICATE,
    TOKEN,
    ANONYMOUS
  }

  /** A caller that presented neither a certificate nor a token. */
  public static final Identity ANONYMOUS = new Identity("", Source.ANONYMOUS);

  public boolean anonymous() {
    return source == Source.ANONYMOUS;
  }

  /** For messages and the audit log: {@code cert:ops-1}, {@code token:ci}, {@code anonymous}. */
  @Override
  public String toString() {
    return switch (source) {
      case CERTIFICATE -> "cert:" + name;
      case TOKEN -> "token:" + name;
      case ANONYMOUS -> "anonymous";
    };
  }
}
