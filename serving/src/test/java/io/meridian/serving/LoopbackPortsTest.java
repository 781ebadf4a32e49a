package io.meridian.serving;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LoopbackPortsTest {
  private static final Path RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

  @Test
  void theEphemeralRangeIsReadWhole() throws Exception {
    if (Files.isReadable(RANGE)) {
      List<String> lines = Files.readAllLines(RANGE);
      int low = Integer.parseInt(lines.get(0).trim().split("\\s+")[0]);
      assertThat(LoopbackPorts.ephemeralLow()).isEqualTo(low);
    } else {
      assertThat(LoopbackPorts.ephemeralLow()).isEqualTo(32768);
    }
  }

  @Test
  void plannedPortsLieBelowTheEphemeralRangeAndAreNeverRepeated() {
    int low = LoopbackPorts.ephemeralLow();
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      int port = LoopbackPorts.free();
      assertThat(port).isBetween(10_000, low - 1);
      assertThat(seen.add(port)).as("port %d handed out twice", port).isTrue();
    }
  }
}
