package io.meridian.serving.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Bearer tokens: 32 random bytes, shown once when created, kept only as their SHA-256. A fast hash
 * is enough for a secret of that entropy (slow hashes are for passwords people choose); the {@code
 * mrd_} prefix lets a secret scanner find a leaked one.
 */
public final class Tokens {
  /** What every token starts with. */
  public static final String PREFIX = "mrd_";

  private static final SecureRandom RANDOM = new SecureRandom();

  private Tokens() {}

  /** A new token, to show its owner once and never store. */
  public static String create() {
    byte[] secret = new byte[32];
    RANDOM.nextBytes(secret);
    return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
  }

  /** What the policy keeps of {@code token}: its SHA-256, in hex. */
  public static String hash(String token) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks SHA-256", e);
    }
  }
}
