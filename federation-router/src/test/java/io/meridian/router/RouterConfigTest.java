package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Consistency;
import io.meridian.api.v1.Error;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RouterConfigTest {
  @Test
  void defaultsAreFilledInAndNamespacePoliciesInheritThem() {
    RouterConfig c =
        RouterConfig.parse(
            """
            region: us-west
            table: table.yaml
            preference: [us-east]
            defaults: {on-unavailable: FAIL_CLOSED}
            namespaces:
              payments: {max-staleness-ms: 100}
              catalog: {discover: CACHED, on-unavailable: FAIL_OPEN}
            """);
    assertThat(c.listen().port()).isEqualTo(2390);
    assertThat(c.reads().maxStalenessRevisions()).isEqualTo(1000);
    assertThat(c.cache().ttlMs()).isEqualTo(5000);
    assertThat(c.policy("payments").maxStalenessMs()).isEqualTo(100);
    assertThat(c.policy("payments").maxStalenessRevisions()).isEqualTo(1000);
    assertThat(c.policy("payments").failOpen()).isFalse();
    assertThat(c.policy("payments").discover()).isEqualTo(Consistency.LOCAL);
    assertThat(c.policy("catalog").discover()).isEqualTo(Consistency.CACHED);
    assertThat(c.policy("catalog").failOpen()).isTrue();
    assertThat(c.policy("other")).isEqualTo(c.defaults());
    assertThat(c.policy(null)).isEqualTo(c.defaults());
  }

  @Test
  void badFilesAreRefusedNamingTheField() {
    assertRefused("table: t.yaml", "region: null");
    assertRefused("region: us-west", "table: missing");
    assertRefused("region: us-west\ntable: t\nlisten: {port: 70000}", "listen.port: 70000");
    assertRefused("region: us-west\ntable: t\npreference: [us-west]", "preference: us-west");
    assertRefused("region: us-west\ntable: t\ncolour: blue", "unknown field 'colour'");
    assertRefused(
        "region: us-west\ntable: t\nnamespaces: {'bad ns': {}}", "namespaces: namespace: bad ns");
    assertRefused(
        "region: us-west\ntable: t\ncache: {ttl-ms: 10, max-age-ms: 5}", "cache: ttl-ms 10");
    assertRefused(
        "region: us-west\ntable: t\ndefaults: {max-staleness-ms: -1}", "defaults: max-staleness");
  }

  @Test
  void aRelativeTableIsFoundBesideTheConfigFile(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("router.yaml");
    Files.writeString(file, "region: us-east\ntable: table.yaml\n");
    assertThat(RouterConfig.load(file).table()).isEqualTo(dir.resolve("table.yaml").toString());
  }

  private static void assertRefused(String yaml, String message) {
    assertThatThrownBy(() -> RouterConfig.parse(yaml))
        .isInstanceOf(MeridianException.class)
        .hasMessageContaining(message)
        .extracting(e -> ((MeridianException) e).code())
        .isEqualTo(Error.Code.INVALID_ARGUMENT);
  }
}
