package domain

import (
	"fmt"
	"math/rand/v2"
)

// Words of random job names: short, harmless and easy to say aloud, so a
// name can be read out over a call.
var (
	nameAdjectives = []string{"amber", "bold", "brave", "brisk", "calm", "clever", "cosmic", "crisp", "daring", "eager",
		"early", "fancy", "fast", "fierce", "gentle", "giant", "glad", "golden", "grand", "happy", "hidden", "humble",
		"jolly", "keen", "kind", "lively", "lucky", "mellow", "merry", "mighty", "misty", "noble", "polite", "proud",
		"quick", "quiet", "rapid", "rare", "ruby", "rustic", "shiny", "silent", "silver", "sly", "smart", "snowy",
		"solid", "steady", "sunny", "swift", "tidy", "tiny", "vivid", "warm", "wild", "wise", "witty", "young", "zesty"}
	nameAnimals = []string{"badger", "bear", "beaver", "bison", "crane", "crow", "deer", "dolphin", "eagle", "falcon",
		"ferret", "finch", "fox", "gecko", "heron", "ibis", "jaguar", "koala", "lemur", "lion", "llama", "lynx", "marten",
		"mole", "moose", "newt", "orca", "otter", "owl", "panda", "parrot", "pelican", "penguin", "puffin", "quail",
		"rabbit", "raven", "robin", "salmon", "seal", "shark", "sloth", "sparrow", "squid", "stork", "swan", "tapir",
		"tiger", "toucan", "trout", "turtle", "viper", "walrus", "weasel", "whale", "wolf", "wombat", "yak", "zebra"}
)

// RandomJobName returns a readable name like "brave-otter-4821" for a job
// submitted without one. It is random, not unique: the store retries on the
// rare clash within a queue.
func RandomJobName() string {
	return fmt.Sprintf("%s-%s-%04d", nameAdjectives[rand.IntN(len(nameAdjectives))],
		nameAnimals[rand.IntN(len(nameAnimals))], 1000+rand.IntN(9000))
}
