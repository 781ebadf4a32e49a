package io.meridian.cluster.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.v1.Role;
import org.junit.jupiter.api.Test;

class NodeConfigTest {
  static final String GOOD =
      """
      member: n1
      region: us-east
      data-dir: /tmp/n1
      client: {host: 127.0.0.1, port: 2379}
      peer: {host: 127.0.0.1, port: 2380}
      members:
        - {id: n1, peer: "127.0.0.1:2380", client: "http://127.0.0.1:2379"}
      shards:
        - {id: 0, role: PRIMARY, epoch: 1}
      """;

  @Test
  void readsAFileAndFillsDefaults() {
    NodeConfig c = NodeConfig.parse(GOOD);
    assertThat(c.shards().get(0).role()).isEqualTo(Role.PRIMARY);
    assertThat(c.lease().defaultTtlSeconds()).isEqualTo(30);
    assertThat(c.lease().minTtlSeconds()).isEqualTo(5);
    assertThat(c.lease().maxTtlSeconds()).isEqualTo(3600);
    assertThat(c.raft().snapshotThreshold()).isEqualTo(10_000);
    assertThat(c.registry().renewalThreshold()).isEqualTo(0.85);
    assertThat(c.registry().minInstances()).isEqualTo(10);
    assertThat(c.registry().checkIntervalMs()).isEqualTo(60_000);
    assertThat(c.registry().selfPreservation()).isTrue();
    assertThat(c.watch().maxPendingBytes()).isEqualTo(8L << 20);
  }

  @Test
  void namesTheBadField() {
    assertThatThrownBy(() -> NodeConfig.parse(GOOD + "bogus: 1\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("bogus");
    assertThatThrownBy(() -> NodeConfig.parse(GOOD.replace("role: PRIMARY, ", "")))
        .hasMessageContaining("shards[0].role");
    assertThatThrownBy(() -> NodeConfig.parse(GOOD.replace("port: 2379", "port: 70000")))
        .hasMessageContaining("client.port");
    assertThatThrownBy(() -> NodeConfig.parse(GOOD + "lease: {min-ttl-seconds: 60}\n"))
        .hasMessageContaining("min-ttl-seconds");
    assertThatThrownBy(() -> NodeConfig.parse(GOOD + "registry: {renewal-threshold: 1.5}\n"))
        .hasMessageContaining("registry.renewal-threshold");
    assertThatThrownBy(() -> NodeConfig.parse(GOOD + "registry: {default-ttl-seconds: 1}\n"))
        .hasMessageContaining("registry.default-ttl-seconds");
    assertThatThrownBy(() -> NodeConfig.parse(GOOD + "watch: {max-pending-bytes: 10}\n"))
        .hasMessageContaining("watch.max-pending-bytes");
    assertThatThrownBy(() -> NodeConfig.parse(GOOD.replace("member: n1", "member: n9")))
        .hasMessageContaining("does not list this member");
    assertThatThrownBy(() -> NodeConfig.parse("member: [unclosed"))
        .isInstanceOf(ConfigException.class);
  }
}
