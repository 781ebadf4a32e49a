package io.meridian.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.meridian.bridge.BridgeConfig;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.router.RouterConfig;
import io.meridian.serving.config.ConfigKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The configuration tables users read list exactly the keys each role declares, in the same order,
 * with the same defaults and descriptions: a key added, renamed or re-defaulted in code without its
 * table (or the other way round) fails here.
 */
class ConfigTablesTest {
  record Row(String key, String defaultText, String description) {}

  private static final Pattern KEY_CELL = Pattern.compile("`([^`]+)`");

  static Stream<Arguments> tables() {
    return Stream.of(
        Arguments.of(NodeConfig.KEYS, "README.md", "## Configuration"),
        Arguments.of(RouterConfig.KEYS, "README.md", "### Router configuration"),
        Arguments.of(BridgeConfig.KEYS, "docs/replication.md", "### Configuration"));
  }

  @ParameterizedTest(name = "{0} keys in {1}")
  @MethodSource("tables")
  void theTableListsTheDeclaredKeys(ConfigKeys keys, String doc, String heading)
      throws IOException {
    List<Row> declared =
        keys.keys().stream().map(k -> new Row(k.name(), k.defaultText(), k.description())).toList();
    assertThat(table(repository().resolve(doc), heading))
        .as("the table under '%s' in %s", heading, doc)
        .containsExactlyElementsOf(declared);
  }

  /** The rows of the first table after {@code heading}. */
  static List<Row> table(Path doc, String heading) throws IOException {
    List<String> lines = Files.readAllLines(doc);
    int at = lines.indexOf(heading);
    assertThat(at).as("heading '%s' in %s", heading, doc).isNotNegative();
    while (!lines.get(at).startsWith("| key |")) {
      at++;
    }
    List<Row> rows = new ArrayList<>();
    // Skip the header and the |---| line; the table ends at the first line that is not a row.
    for (int i = at + 2; i < lines.size() && lines.get(i).startsWith("|"); i++) {
      String line = lines.get(i);
      String[] cells = line.substring(2, line.length() - 2).split(" \\| ", -1);
      assertThat(cells).as("row '%s' has three cells", line).hasSize(3);
      Matcher key = KEY_CELL.matcher(cells[0]);
      assertThat(key.matches()).as("row '%s' names one key in backticks", line).isTrue();
      rows.add(new Row(key.group(1), cells[1], cells[2]));
    }
    return rows;
  }

  /** The repository's root: tests run in the module's directory. */
  static Path repository() {
    Path dir = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(dir.resolve("docs/decisions"))) {
      dir = dir.getParent();
      assertThat(dir).as("the repository root above the working directory").isNotNull();
    }
    return dir;
  }
}
