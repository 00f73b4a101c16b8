// Package agentjson reads the Amazon Kinesis Agent's configuration
// (agent.json, and the flows of the agent.d directory beside it) with the
// agent's own rules: JSON with comments, dotted keys as flat keys, numbers
// given as strings, booleans as true/yes/t/y/1 and false/no/f/n/0, the
// agent's defaults and valid ranges.
//
// One piece of code serves `kinetail convert` and `kinetail run` and
// `check`: the agent.json becomes an intermediate tree of kinetail YAML
// entries, each remembering the agent.json value it came from. Rendered, it
// is the commented YAML convert prints; parsed by config.Parse, it is the
// configuration run and check use. So the two cannot differ, and a problem
// config.Parse finds in the YAML is reported at the agent.json line and
// column it came from.
//
// What has no place in the YAML (static credentials, the STS endpoint) is
// returned as environment variables for the AWS SDK, never written out.
// Keys kinetail cannot honour (Java credential providers and plugins) are
// errors; keys the agent reads only to tune its Java runtime, and keys it
// does not read at all, are ignored with a debug note.
package agentjson
