package io.meridian.cluster.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.HealthStatus;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RegistryRulesTest {
  @ParameterizedTest
  @ValueSource(
      strings = {
        "localhost",
        "db-1.internal.example.com",
        "A1",
        "x.123abc",
        "10.0.0.1",
        "0.0.0.0",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "2001:db8::8a2e:370:7334",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "1:2:3:4:5:6:7::",
        "::ffff:192.0.2.128",
        "1:2:3:4:5:6:1.2.3.4",
      })
  void acceptsHostNamesAndAddressLiterals(String address) {
    assertThatCode(() -> RegistryRules.checkAddress(address)).doesNotThrowAnyException();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        " ",
        "host name",
        "host_name",
        "-host",
        "host-",
        "a..b",
        ".a",
        "a.",
        "héllo",
        "10.0.0",
        "10.0.0.256",
        "10.0.0.01",
        "1.2.3.4.5",
        "[::1]",
        "fe80::1%eth0",
        ":::",
        "1::2::3",
        ":1::",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "12345::",
        "g::1",
        "::1.2.3",
        "1.2.3.4::",
        "::1:2:3:4:5:6:7:8",
      })
  void refusesAnythingElse(String address) {
    assertThatThrownBy(() -> RegistryRules.checkAddress(address))
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> {
              assertThat(e.code()).isEqualTo(Error.Code.INVALID_ARGUMENT);
              assertThat(e.getMessage()).startsWith("address: ");
            });
  }

  @Test
  void addressLengthAndLabelLength() {
    String label63 = "a".repeat(63);
    String longest = (label63 + ".").repeat(3) + "a".repeat(61); // 253 characters
    assertThat(longest).hasSize(253);
    assertThatCode(() -> RegistryRules.checkAddress(longest)).doesNotThrowAnyException();
    assertThatThrownBy(() -> RegistryRules.checkAddress(longest + "a"))
        .isInstanceOf(MeridianException.class);
    assertThatThrownBy(() -> RegistryRules.checkAddress("a".repeat(64) + ".com"))
        .isInstanceOf(MeridianException.class);
  }

  @Test
  void boundsAreInclusive() {
    assertThatCode(
            () -> {
              RegistryRules.checkService("s".repeat(128));
              RegistryRules.checkInstanceId("10.0.0.1:8080");
              RegistryRules.checkInstanceId("i".repeat(128));
              RegistryRules.checkPort(1);
              RegistryRules.checkPort(65535);
              RegistryRules.checkLocation("zone", "");
              RegistryRules.checkLocation("zone", "z".repeat(63));
              RegistryRules.checkTags(java.util.Collections.nCopies(1, "t".repeat(128)));
              RegistryRules.checkTags(List.of("ünïcode ok", "with space"));
              RegistryRules.checkMetadata(Map.of("k/x.y_z-1", "v".repeat(1024), "e", ""));
              RegistryRules.checkNote("n".repeat(1024));
            })
        .doesNotThrowAnyException();
  }

  @Test
  void healthAndHeartbeat() {
    assertThat(RegistryRules.initialHealth(HealthStatus.HEALTH_UNSPECIFIED))
        .isEqualTo(HealthStatus.PASSING);
    assertThat(RegistryRules.initialHealth(HealthStatus.WARNING)).isEqualTo(HealthStatus.WARNING);
    assertThatThrownBy(() -> RegistryRules.checkHealth(HealthStatus.HEALTH_UNSPECIFIED))
        .isInstanceOf(MeridianException.class);
    assertThat(RegistryRules.heartbeatInterval(0, 30_000)).isEqualTo(10_000);
    assertThat(RegistryRules.heartbeatInterval(0, 2)).isEqualTo(1);
    assertThat(RegistryRules.heartbeatInterval(30_000, 30_000)).isEqualTo(30_000);
    assertThat(RegistryRules.heartbeatInterval(1, 30_000)).isEqualTo(1);
  }

  @Test
  void registryKeysRoundTrip() {
    String key = RegistryIndex.keyOf("team-a", "web.v2", "10.0.0.1:8080");
    assertThat(key).isEqualTo("/team-a/.meridian/registry/web.v2/10.0.0.1:8080");
    assertThat(RegistryIndex.parseKey(key))
        .isEqualTo(new RegistryIndex.InstanceRef("team-a", "web.v2", "10.0.0.1:8080"));
    assertThat(RegistryIndex.parseKey("/team-a/web/i1")).isNull();
    assertThat(RegistryIndex.parseKey("/team-a/.meridian/locks/web/i1")).isNull();
    assertThat(RegistryIndex.parseKey("/team-a/.meridian/registry/web")).isNull();
    assertThat(RegistryIndex.parseKey("/team-a/.meridian/registry/web/")).isNull();
    assertThat(RegistryIndex.parseKey("/team-a/.meridian/registry/web/a/b")).isNull();
  }
}
