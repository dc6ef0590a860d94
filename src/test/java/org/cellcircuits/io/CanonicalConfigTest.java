package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

class CanonicalConfigTest {
  private static final String CANONICAL =
      "{\"a\":{\"list\":[1,2.5,\"x\"],\"name\":\"VWF & <PECAM1>\",\"ratio\":0.00014},\"b\":8,\"c\":null,\"d\":true}";

  @Test
  void rendersSortedCompactJsonWithOneNumberForm() {
    Config config = ConfigFactory.parseString(
        "d = true\n# a comment\nb = 8.0\nc = null\na { ratio = 1.4e-4, name = \"VWF & <PECAM1>\", list = [1, 2.50, x] }");
    assertThat(CanonicalConfig.json(config)).isEqualTo(CANONICAL);
  }

  @Test
  void hashIsTheSha256OfTheCanonicalText() {
    Config config = ConfigFactory.parseString(
        "a { list = [1.0, 2.5, \"x\"], name = \"VWF & <PECAM1>\", ratio = 0.00014 }, b = 8, c = null, d = true");
    // printf '%s' '<CANONICAL>' | sha256sum
    assertThat(CanonicalConfig.sha256(config))
        .isEqualTo("f84b302403054a6bca9420864368646c59e67e33e4d16b9215ef076a3b2f0eb9");
  }

  @Test
  void hashIgnoresLayoutAndSubstitutionsButNotValues() {
    String a = CanonicalConfig.sha256(ConfigFactory.parseString("x { k = 200, t = c2s }"));
    String b = CanonicalConfig.sha256(ConfigFactory.parseString("top = 200\nx.t = \"c2s\"\nx.k = ${top}")
        .resolve().withoutPath("top"));
    String c = CanonicalConfig.sha256(ConfigFactory.parseString("x { k = 201, t = c2s }"));
    String d = CanonicalConfig.sha256(ConfigFactory.parseString("x { k = \"200\", t = c2s }"));
    assertThat(b).isEqualTo(a);
    assertThat(c).isNotEqualTo(a);
    assertThat(d).as("a string is not a number").isNotEqualTo(a);
  }

  @Test
  void differencesNameEachChangedKeyOnce() {
    var before = CanonicalConfig.tree(ConfigFactory.parseString("s { k = 200, ties = c2s, genes = [A, B] }"));
    var after = CanonicalConfig.tree(ConfigFactory.parseString("s { k = 100, ties = c2s, genes = [A], new = 1 }"));
    assertThat(CanonicalConfig.differences(before, after)).containsExactly(
        "s.genes: [\"A\",\"B\"] -> [\"A\"]",
        "s.k: 200 -> 100",
        "s.new: (absent) -> 1");
    assertThat(CanonicalConfig.differences(before, before)).isEmpty();
  }
}
