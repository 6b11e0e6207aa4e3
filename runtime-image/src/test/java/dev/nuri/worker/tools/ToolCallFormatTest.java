package dev.nuri.worker.tools;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Each family's parser on texts written the way its models write them (the same texts vLLM's parsers read). */
class ToolCallFormatTest {
    @Test
    void deepSeekV3() {
        String text = "Let me check.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Seoul\"}\n```"
                + "<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>send_email\n```json\n{\"to\":\"a@b\"}\n```<｜tool▁call▁end｜>"
                + "<｜tool▁calls▁end｜>";
        ToolCallFormat.Parsed p = ToolCallFormat.DEEPSEEK_V3.parse(text);
        assertThat(p.content()).isEqualTo("Let me check.");
        assertThat(p.calls()).extracting(ToolCall::name).containsExactly("get_weather", "send_email");
        assertThat(p.calls()).extracting(ToolCall::arguments).containsExactly("{\"city\":\"Seoul\"}", "{\"to\":\"a@b\"}");
    }

    @Test
    void hermes() {
        String text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Busan\"}}\n</tool_call>\n"
                + "<tool_call>\n{\"name\": \"noop\", \"arguments\": {}}\n</tool_call>";
        ToolCallFormat.Parsed p = ToolCallFormat.HERMES.parse(text);
        assertThat(p.content()).isNull();
        assertThat(p.calls()).extracting(ToolCall::name).containsExactly("get_weather", "noop");
        assertThat(p.calls().get(0).arguments()).isEqualTo("{\"city\":\"Busan\"}");
        assertThat(ToolCallFormat.HERMES.parse("<tool_call>\n{not json}\n</tool_call>").calls()).isEmpty();
    }

    @Test
    void mistral() {
        ToolCallFormat.Parsed p = ToolCallFormat.MISTRAL.parse("[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {}}]");
        assertThat(p.calls()).extracting(ToolCall::name).containsExactly("a", "b");
        assertThat(ToolCallFormat.MISTRAL.parse("[TOOL_CALLS][{\"name\": \"a\"").calls()).isEmpty();
    }

    @Test
    void textWithoutCallsIsContent() {
        assertThat(ToolCallFormat.HERMES.parse("just <tool_ text").content()).isEqualTo("just <tool_ text");
        assertThat(ToolCallFormat.HERMES.parse("just <tool_ text").calls()).isEmpty();
    }

    @Test
    void aStreamHoldsBackWhatCouldStartACallAndHandsOutWholeCalls() {
        ToolCallStream s = new ToolCallStream(ToolCallFormat.HERMES);
        List<String> content = new ArrayList<>();
        List<ToolCall> calls = new ArrayList<>();
        String[] pieces = {"Sure", ". <to", "ol_call>\n{\"name\": \"f\", ", "\"arguments\": {}}\n</tool", "_call>"};
        for (int i = 0; i < pieces.length; i++) {
            ToolCallStream.Delta d = s.add(pieces[i], i == pieces.length - 1);
            content.add(d.content());
            calls.addAll(d.calls());
            if (i == 1) assertThat(d.content()).as("'<to' may start <tool_call>").isEqualTo(". ");
            if (i == 3) assertThat(d.calls()).as("not whole yet").isEmpty();
        }
        assertThat(String.join("", content)).isEqualTo("Sure. ");
        assertThat(calls).extracting(ToolCall::name).containsExactly("f");
        assertThat(s.calledTools()).isTrue();

        ToolCallStream plain = new ToolCallStream(ToolCallFormat.HERMES);
        assertThat(plain.add("a <to", false).content()).isEqualTo("a ");
        assertThat(plain.add("day", true).content()).isEqualTo("<today");
    }
}
