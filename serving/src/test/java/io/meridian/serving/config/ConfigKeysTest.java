package io.meridian.serving.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigKeysTest {
  enum Colour {
    RED,
    GREEN,
    BLUE
  }

  static final ConfigKey<String> NAME =
      ConfigKey.of("name", ConfigType.STRING)
          .required()
          .check(Validator.matching("[a-z]+", "lower-case letters"))
          .description("the name");
  static final ConfigKey<Long> TTL =
      ConfigKey.of("limits.ttl-seconds", ConfigType.LONG)
          .defaultValue(30L)
          .check(Validator.between(5, 3600))
          .description("the TTL");
  static final ConfigKey<Boolean> ON =
      ConfigKey.of("limits.on", ConfigType.BOOLEAN).defaultValue(true).description("on or off");
  static final ConfigKey<List<String>> TAGS =
      ConfigKey.of("tags", ConfigType.listOf(ConfigType.STRING))
          .defaultValue(List.of())
          .description("the tags");
  static final ConfigKey<Integer> PORT =
      ConfigKey.of("peers[].port", ConfigType.INT)
          .required()
          .check(Validator.port())
          .description("a peer's port");
  static final ConfigKey<Colour> DEFAULT_COLOUR =
      ConfigKey.of("defaults.colour", ConfigType.oneOf(Colour.RED, Colour.GREEN))
          .defaultValue(Colour.RED)
          .description("the colour");
  static final ConfigKey<Colour> COLOUR =
      ConfigKey.of("groups.<g>.colour", ConfigType.oneOf(Colour.RED, Colour.GREEN))
          .defaultsTo(DEFAULT_COLOUR)
          .description("a group's colour");
  static final ConfigKey<Map<String, String>> EXTRA =
      ConfigKey.of("extra", ConfigType.mapOf(ConfigType.STRING))
          .defaultValue(Map.of())
          .description("passed on as is");
  static final ConfigKeys KEYS =
      ConfigKeys.of("test", NAME, TTL, ON, TAGS, PORT, DEFAULT_COLOUR, COLOUR, EXTRA);

  @Test
  void givenValuesAreReadAndTheOthersDefault() {
    ConfigValues v = KEYS.parse("name: abc\nlimits: {ttl-seconds: 60}\n");
    assertThat(v.get(NAME)).isEqualTo("abc");
    assertThat(v.get(TTL)).isEqualTo(60L);
    assertThat(v.get(ON)).isTrue();
    assertThat(v.get(TAGS)).isEmpty();
    assertThat(v.get(EXTRA)).isEmpty();
    assertThat(v.elements("peers[]")).isEmpty();
    assertThat(v.entries("groups.<g>")).isEmpty();
  }

  @Test
  void emptyValuesLeaveTheDefaultAndQuotedScalarsAreRead() {
    ConfigValues v =
        KEYS.parse(
            "name: abc\nlimits: {ttl-seconds: \"90\", on: 'false'}\ntags:\nextra: {n: 10}\n");
    assertThat(v.get(TTL)).isEqualTo(90L);
    assertThat(v.get(ON)).isFalse();
    assertThat(v.get(TAGS)).isEmpty();
    assertThat(v.get(EXTRA)).containsExactly(Map.entry("n", "10"));
  }

  @Test
  void listElementsAndNamedEntriesHaveTheirOwnKeys() {
    ConfigValues v =
        KEYS.parse(
            """
            name: abc
            peers: [{port: 1}, {port: 2}]
            defaults: {colour: GREEN}
            groups: {a: {colour: RED}, b: {}, c: ~}
            """);
    assertThat(v.elements("peers[]")).extracting(e -> e.get(PORT)).containsExactly(1, 2);
    assertThat(v.elements("peers[]").get(1).path(PORT)).isEqualTo("peers[1].port");
    Map<String, ConfigValues> groups = v.entries("groups.<g>");
    assertThat(groups).containsOnlyKeys("a", "b", "c");
    assertThat(groups.get("a").get(COLOUR)).isEqualTo(Colour.RED);
    assertThat(groups.get("b").get(COLOUR)).isEqualTo(Colour.GREEN);
    assertThat(groups.get("c").get(COLOUR)).isEqualTo(Colour.GREEN);
    assertThat(groups.get("a").path(COLOUR)).isEqualTo("groups.a.colour");
  }

  @Test
  void elementsCanBeReadWithAKeyNoTwoShare() {
    ConfigValues v = KEYS.parse("name: abc\npeers: [{port: 1}, {port: 2}, {port: 1}]\n");
    assertThatThrownBy(() -> v.elements("peers[]", PORT, p -> p.get(PORT)))
        .isInstanceOf(ConfigException.class)
        .hasMessage("test config: peers[2].port: 1 (expected: unique)");
    ConfigValues two = KEYS.parse("name: abc\npeers: [{port: 1}, {port: 2}]\n");
    assertThat(two.elements("peers[]", PORT, p -> p.get(PORT) * 10)).containsExactly(10, 20);
  }

  @Test
  void aKeyRenamedKeepsItsTypeDefaultCheckAndDescription() {
    ConfigKey<Long> renamed = TTL.named("other.ttl-seconds");
    assertThat(renamed.name()).isEqualTo("other.ttl-seconds");
    assertThat(renamed.defaultText()).isEqualTo(TTL.defaultText());
    assertThat(renamed.description()).isEqualTo(TTL.description());
    assertThat(renamed.expected()).isEqualTo("5..3600");
  }

  @Test
  void unknownKeysAreRefusedListingTheKnownOnes() {
    assertRefused(
        "name: abc\ncolor: red\n",
        "color",
        "test config: color: unknown key (expected: one of name, limits, tags, peers, defaults,"
            + " groups, extra)");
    assertRefused(
        "name: abc\npeers: [{port: 1}, {port: 2, host: x}]\n",
        "peers[1].host",
        "test config: peers[1].host: unknown key (expected: one of port)");
  }

  @Test
  void aKeyGivenTwiceIsRefusedWhereverItIs() {
    assertRefused(
        "name: abc\nname: abd\n",
        "name",
        "test config: name: given twice (expected: each key once)");
    assertRefused(
        "name: abc\npeers:\n  - {port: 1}\n  - {port: 2, port: 3}\n",
        "peers[1].port",
        "test config: peers[1].port: given twice (expected: each key once)");
  }

  @Test
  void aFileWithoutKeysIsRefused() {
    for (String empty : List.of("", "\n", "# only a comment\n", "---\n")) {
      assertRefused(empty, null, "test config: empty (expected: a mapping of keys)");
    }
    assertRefused("- name\n", null, "test config: [\"name\"] (expected: a mapping of keys)");
    assertRefused(
        "name: abc\n---\nname: abd\n",
        null,
        "test config: a second document at line 3, column 1 (expected: one document)");
  }

  @Test
  void textThatIsNotYamlIsRefusedWithItsLine() {
    assertThatThrownBy(() -> KEYS.parse("name: abc\ntags: [a\n"))
        .isInstanceOfSatisfying(
            ConfigException.class,
            e -> {
              assertThat(e.key()).isNull();
              assertThat(e.getMessage())
                  .startsWith("test config: not YAML at line ")
                  .endsWith("(expected: YAML)")
                  .doesNotContain("\n");
            });
  }

  @Test
  void valuesOfTheWrongTypeAreRefusedSayingTheType() {
    assertRefused(
        "name: abc\nlimits: {ttl-seconds: soon}\n",
        "limits.ttl-seconds",
        "test config: limits.ttl-seconds: soon (expected: an integer)");
    assertRefused(
        "name: abc\nlimits: {ttl-seconds: 1.5}\n",
        "limits.ttl-seconds",
        "test config: limits.ttl-seconds: 1.5 (expected: an integer)");
    assertRefused(
        "name: abc\nlimits: 5\n",
        "limits",
        "test config: limits: 5 (expected: a mapping of ttl-seconds, on)");
    assertRefused(
        "name: abc\ntags: a\n", "tags", "test config: tags: a (expected: a list of strings)");
    assertRefused(
        "name: abc\nlimits: {on: maybe}\n",
        "limits.on",
        "test config: limits.on: maybe (expected: true or false)");
    assertRefused(
        "name: abc\ndefaults: {colour: BLUE}\n",
        "defaults.colour",
        "test config: defaults.colour: BLUE (expected: RED or GREEN)");
    assertRefused(
        "name: abc\npeers: {port: 1}\n",
        "peers",
        "test config: peers: {\"port\":1} (expected: a list)");
  }

  @Test
  void valuesTheConditionRefusesAreRefusedSayingWhatWasExpected() {
    assertRefused(
        "name: abc\nlimits: {ttl-seconds: 1}\n",
        "limits.ttl-seconds",
        "test config: limits.ttl-seconds: 1 (expected: 5..3600)");
    assertRefused("name: ABC\n", "name", "test config: name: ABC (expected: lower-case letters)");
  }

  @Test
  void requiredKeysAreRefusedWhenMissingWhenTheyAreRead() {
    ConfigValues v = KEYS.parse("tags: [a]\npeers: [{}]\n");
    assertThatThrownBy(() -> v.get(NAME))
        .isInstanceOf(ConfigException.class)
        .hasMessage("test config: name: missing (expected: lower-case letters)");
    assertThatThrownBy(() -> v.elements("peers[]").get(0).get(PORT))
        .hasMessage("test config: peers[0].port: missing (expected: 0..65535)");
  }

  @Test
  void refusalsOfAFileNameTheFile(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("test.yaml");
    Files.writeString(file, "name: abc\nlimits: {ttl-seconds: 0}\n");
    assertThatThrownBy(() -> KEYS.load(file))
        .isInstanceOfSatisfying(
            ConfigException.class, e -> assertThat(e.source()).isEqualTo(file.toString()))
        .hasMessage(file + ": limits.ttl-seconds: 0 (expected: 5..3600)");
    assertThatThrownBy(() -> KEYS.load(dir.resolve("absent.yaml")))
        .hasMessage(
            dir.resolve("absent.yaml")
                + ": cannot be read, NoSuchFileException (expected: a readable file)");
    ConfigValues v = KEYS.load(writeGood(dir));
    assertThat(v.source()).isEqualTo(dir.resolve("good.yaml").toString());
    assertThat(v.refuse(TTL, "less").getMessage())
        .isEqualTo(dir.resolve("good.yaml") + ": limits.ttl-seconds: 30 (expected: less)");
  }

  @Test
  void valuesSetInCodeMeetTheSameConditions() {
    assertThat(KEYS.check(TTL, 60L)).isEqualTo(60L);
    assertThatThrownBy(() -> KEYS.check(TTL, 4L))
        .isInstanceOf(ConfigException.class)
        .hasMessage("test config: limits.ttl-seconds: 4 (expected: 5..3600)");
  }

  @Test
  void defaultsAreWrittenAsTheReadmeWritesThem() {
    assertThat(NAME.defaultText()).isEqualTo("required");
    assertThat(TTL.defaultText()).isEqualTo("`30`");
    assertThat(TAGS.defaultText()).isEqualTo("`[]`");
    assertThat(EXTRA.defaultText()).isEqualTo("`{}`");
    assertThat(COLOUR.defaultText()).isEqualTo("as `defaults.colour`");
    assertThat(
            ConfigKey.of("x", ConfigType.listOf(ConfigType.INT))
                .defaultValue(List.of(1, 2))
                .defaultText())
        .isEqualTo("`[1, 2]`");
  }

  @Test
  void declarationsWithoutADefaultOrDescriptionOrThatClashAreRefused() {
    ConfigKey<Long> bare = ConfigKey.of("a", ConfigType.LONG);
    assertThatThrownBy(() -> ConfigKeys.of("t", bare.defaultValue(1L)))
        .hasMessage("t config: a: declared without a description");
    assertThatThrownBy(() -> ConfigKeys.of("t", bare.description("d")))
        .hasMessageContaining("a: declared without a default");
    assertThatThrownBy(
            () ->
                ConfigKeys.of(
                    "t", bare.defaultValue(1L).check(Validator.atLeast(2)).description("d")))
        .hasMessage("t config: a: its default `1` fails its own check");
    assertThatThrownBy(() -> ConfigKeys.of("t", COLOUR))
        .hasMessageContaining("defaults to defaults.colour, which is not declared before it");
    ConfigKey<Long> a = bare.defaultValue(1L).description("d");
    ConfigKey<Long> inside = ConfigKey.of("a.b", ConfigType.LONG).defaultValue(1L).description("d");
    assertThatThrownBy(() -> ConfigKeys.of("t", a, inside))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ConfigKeys.of("t", a, a)).isInstanceOf(IllegalArgumentException.class);
  }

  private static Path writeGood(Path dir) throws Exception {
    return Files.writeString(dir.resolve("good.yaml"), "name: abc\n");
  }

  private static void assertRefused(String yaml, String key, String message) {
    assertThatThrownBy(() -> KEYS.parse(yaml))
        .isInstanceOfSatisfying(
            ConfigException.class,
            e -> {
              assertThat(e.key()).isEqualTo(key);
              assertThat(e.source()).isEqualTo("test config");
              assertThat(e.getMessage()).isEqualTo(message);
            });
  }
}
