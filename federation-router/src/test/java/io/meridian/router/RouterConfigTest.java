package io.meridian.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.v1.Consistency;
import io.meridian.serving.config.ConfigException;
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
  void badFilesAreRefusedNamingTheKey() {
    assertRefused("table: t.yaml", "region", "missing (expected: the router's region, ");
    assertRefused("region: us-west", "table", "missing (expected: the path of the routing table");
    assertRefused(
        "region: us-west\ntable: t\nlisten: {port: 70000}",
        "listen.port",
        "70000 (expected: 0..65535)");
    assertRefused(
        "region: us-west\ntable: t\npreference: [us-west]",
        "preference",
        "us-west (expected: the other regions, nearest first)");
    assertRefused(
        "region: us-west\ntable: t\ncolour: blue",
        "colour",
        "unknown key (expected: one of region, listen, tls, table, preference, upstream, reads, cache,"
            + " defaults, namespaces)");
    assertRefused(
        "region: us-west\ntable: t\nnamespaces: {'bad ns': {}}", "namespaces.bad ns", "bad ns");
    assertRefused(
        "region: us-west\ntable: t\ncache: {ttl-ms: 10, max-age-ms: 5}",
        "cache.max-age-ms",
        "5 (expected: >= cache.ttl-ms 10)");
    assertRefused(
        "region: us-west\ntable: t\ndefaults: {max-staleness-ms: -1}",
        "defaults.max-staleness-ms",
        "-1 (expected: >= 0)");
    assertRefused(
        "region: us-west\ntable: t\nnamespaces: {a: {discover: SOMETIMES}}",
        "namespaces.a.discover",
        "SOMETIMES (expected: LINEARIZABLE, SERIALIZABLE, LOCAL or CACHED)");
    assertRefused(
        "region: us-west\ntable: t\nupstream: {attempt-timeout-ms: 0}",
        "upstream.attempt-timeout-ms",
        "0 (expected: >= 1)");
  }

  @Test
  void namespaceStalenessFallsBackToTheDefaultsThenToReads() {
    RouterConfig c =
        RouterConfig.parse(
            """
            region: us-west
            table: t
            reads: {max-staleness-revisions: 7, max-staleness-ms: 70}
            defaults: {max-staleness-ms: 50}
            namespaces: {a: {}, b: ~}
            """);
    assertThat(c.defaults().maxStalenessRevisions()).isEqualTo(7);
    assertThat(c.defaults().maxStalenessMs()).isEqualTo(50);
    assertThat(c.policy("a")).isEqualTo(c.defaults());
    assertThat(c.policy("b")).isEqualTo(c.defaults());
    assertThat(c.namespaces()).containsOnlyKeys("a", "b");
  }

  @Test
  void aRelativeTableIsFoundBesideTheConfigFile(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("router.yaml");
    Files.writeString(file, "region: us-east\ntable: table.yaml\n");
    assertThat(RouterConfig.load(file).table()).isEqualTo(dir.resolve("table.yaml").toString());
  }

  private static void assertRefused(String yaml, String key, String problem) {
    assertThatThrownBy(() -> RouterConfig.parse(yaml))
        .isInstanceOfSatisfying(
            ConfigException.class,
            e -> {
              assertThat(e.key()).isEqualTo(key);
              assertThat(e.getMessage()).startsWith("router config: " + key + ": " + problem);
            });
  }
}
