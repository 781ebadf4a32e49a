package io.meridian.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.bridge.BridgeConfig;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.router.RouterConfig;
import io.meridian.serving.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Nodes, routers and bridges refuse a bad file the same way: one exception type, one message shape
 * ({@code <file>: <key>: <value> (expected: <what>)}).
 */
class ConfigStrictnessTest {
  /**
   * A role's readers, a file it accepts, and a top-level section of it whose {@code port} key is an
   * integer 0..65535.
   */
  record Role(
      String name,
      Function<String, ?> parse,
      Function<Path, ?> load,
      String good,
      String portSection) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Role> roles() {
    return Stream.of(
        new Role(
            "node",
            NodeConfig::parse,
            NodeConfig::load,
            """
            member: n1
            data-dir: /tmp/n1
            client: {host: 127.0.0.1, port: 2379}
            peer: {host: 127.0.0.1, port: 2380}
            members:
              - {id: n1, peer: "127.0.0.1:2380", client: "http://127.0.0.1:2379"}
            shards:
              - {id: 0, role: PRIMARY, epoch: 1}
            """,
            "client"),
        new Role(
            "router",
            RouterConfig::parse,
            RouterConfig::load,
            """
            region: us-west
            table: table.yaml
            listen: {host: 127.0.0.1, port: 2390}
            """,
            "listen"),
        new Role(
            "bridge",
            BridgeConfig::parse,
            BridgeConfig::load,
            """
            listen: {host: 127.0.0.1, port: 2391}
            kafka: {bootstrap-servers: "127.0.0.1:9092"}
            shards:
              - {id: 0, source: [http://127.0.0.1:2379], sinks: {us-west: [http://127.0.0.1:3379]}}
            """,
            "listen"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("roles")
  void theGoodFileIsRead(Role role) {
    assertThat(role.parse().apply(role.good())).isNotNull();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("roles")
  void anUnknownKeyIsRefused(Role role) {
    ConfigException e = refusal(role, role.good() + "colour: blue\n");
    assertThat(e.key()).isEqualTo("colour");
    assertThat(e.getMessage())
        .matches(role.name() + " config: colour: unknown key \\(expected: one of [a-z, -]+\\)");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("roles")
  void aKeyGivenTwiceIsRefused(Role role) {
    String again = role.portSection() + ": {port: 1}\n";
    ConfigException e = refusal(role, role.good() + again);
    assertThat(e.key()).isEqualTo(role.portSection());
    assertThat(e.getMessage())
        .isEqualTo(
            role.name()
                + " config: "
                + role.portSection()
                + ": given twice (expected: each key"
                + " once)");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("roles")
  void anEmptyFileIsRefused(Role role) {
    for (String empty : new String[] {"", "# nothing here yet\n"}) {
      ConfigException e = refusal(role, empty);
      assertThat(e.key()).isNull();
      assertThat(e.getMessage())
          .isEqualTo(role.name() + " config: empty (expected: a mapping of keys)");
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("roles")
  void aValueOfTheWrongTypeIsRefused(Role role) {
    ConfigException e = refusal(role, withPort(role, "soon"));
    assertThat(e.key()).isEqualTo(role.portSection() + ".port");
    assertThat(e.getMessage())
        .isEqualTo(
            role.name() + " config: " + role.portSection() + ".port: soon (expected: an integer)");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("roles")
  void aValueItsCheckRefusesIsRefused(Role role) {
    ConfigException e = refusal(role, withPort(role, "70000"));
    assertThat(e.key()).isEqualTo(role.portSection() + ".port");
    assertThat(e.getMessage())
        .isEqualTo(
            role.name() + " config: " + role.portSection() + ".port: 70000 (expected: 0..65535)");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("roles")
  void aRefusedFileIsNamed(Role role, @TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve(role.name() + ".yaml"), withPort(role, "-1"));
    assertThatThrownBy(() -> role.load().apply(file))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.source()).isEqualTo(file.toString()))
        .hasMessage(file + ": " + role.portSection() + ".port: -1 (expected: 0..65535)");
  }

  private static String withPort(Role role, String port) {
    String section = role.portSection() + ": {host: 127.0.0.1, port: ";
    int at = role.good().indexOf(section);
    assertThat(at).as("the good %s file sets %s.port", role, role.portSection()).isNotNegative();
    int end = role.good().indexOf('}', at);
    return role.good().substring(0, at) + section + port + role.good().substring(end);
  }

  private static ConfigException refusal(Role role, String yaml) {
    try {
      role.parse().apply(yaml);
    } catch (ConfigException e) {
      return e;
    }
    throw new AssertionError(role + " accepted:\n" + yaml);
  }
}
