package dev.nuri.worker.tools;

import java.util.List;

/**
 * One streamed choice of a request with tools: passes content through until the family's start of calls could be
 * beginning (holding back only what might be its first characters), then holds the calls' text and hands out each
 * call once it is complete, so that a client sees OpenAI's {@code delta.tool_calls} with whole arguments per call.
 */
public final class ToolCallStream {
    private final ToolCallFormat format;
    private final StringBuilder text = new StringBuilder();
    private int contentSent;
    private int callsSent;
    private boolean inCalls;

    public ToolCallStream(ToolCallFormat format) {
        this.format = format;
    }

    /** What to send after {@code more} text: content not yet sent, and calls completed since the last step. */
    public record Delta(String content, List<ToolCall> calls) {}

    public Delta add(String more, boolean last) {
        text.append(more);
        String content = "";
        if (!inCalls) {
            int at = text.indexOf(format.start, contentSent);
            if (at >= 0) {
                inCalls = true;
                content = text.substring(contentSent, at);
                contentSent = at;
            } else {
                int safe = last ? text.length() : text.length() - heldBack();
                content = text.substring(contentSent, Math.max(contentSent, safe));
                contentSent = Math.max(contentSent, safe);
            }
        }
        if (!inCalls) return new Delta(content, List.of());
        List<ToolCall> calls = format.calls(text.substring(contentSent));
        List<ToolCall> fresh = calls.size() > callsSent ? calls.subList(callsSent, calls.size()) : List.of();
        callsSent = calls.size();
        if (last && callsSent == 0) { // the start marker, but no call could be read: it was content after all
            content += text.substring(contentSent);
            contentSent = text.length();
        }
        return new Delta(content, List.copyOf(fresh));
    }

    public boolean calledTools() {
        return callsSent > 0;
    }

    /** How many trailing characters could be the start of {@link ToolCallFormat#start}. */
    private int heldBack() {
        String start = format.start;
        for (int n = Math.min(start.length() - 1, text.length() - contentSent); n > 0; n--) {
            if (text.toString().regionMatches(text.length() - n, start, 0, n)) return n;
        }
        return 0;
    }
}
