package io.meridian.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SlotTest {
  @Test
  void murmur3MatchesReferenceVectors() {
    assertThat(Slot.murmur3x86x32(new byte[0], 0)).isEqualTo(0);
    assertThat(Slot.murmur3x86x32(new byte[0], 1)).isEqualTo(0x514e28b7);
    assertThat(Slot.murmur3x86x32(utf8("hello"), 0)).isEqualTo(0x248bfa47);
    assertThat(Slot.murmur3x86x32(utf8("The quick brown fox jumps over the lazy dog"), 0))
        .isEqualTo(0x2e4ff723);
  }

  /** Fixed forever: a change here moves namespaces between shards. */
  @Test
  void slotsOfNamespacesAreStable() {
    assertThat(Slot.of("hello")).isEqualTo(0x248bfa47 % 4096);
    for (String ns : new String[] {"team-a", "team-b", "payments", "x"}) {
      assertThat(Slot.of(ns)).isBetween(0, Slot.COUNT - 1).isEqualTo(Slot.of(ns));
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
