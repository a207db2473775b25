"""Wording for the Valdoria pages: filler sentences, word lists and phrase variants.

Pure constants. Filler sentences carry no checkable facts beyond their placeholders (which the
renderers in :mod:`devtools.valdoria.pages` fill from the page's own entity), so they can never
contradict a rubric; they exist to make pages read like prose and to give search some noise.
"""

from __future__ import annotations

PERSON_FILL = {
    "composer": (
        "{His} music draws on the folk songs of {prov} and on the church modes {he} heard as a child.",
        "Critics have praised the clarity of {his} orchestration and {his} fondness for low woodwinds.",
        "{He} wrote much of {his} music in a rented room above a bakery, working early in the morning.",
        "Several of {his} manuscripts survive in private collections and were catalogued only recently.",
        "{His} later style grew sparser, relying on long pedal notes and quiet string writing.",
    ),
    "conductor": (
        "{He} was known for brisk tempi and for rehearsing new scores at unusual length.",
        "Recordings of {his} concerts were broadcast on {DEMONYM} radio for many years.",
        "{He} championed the music of younger {DEMONYM} composers throughout {his} career.",
    ),
    "painter": (
        "{His} palette favoured ochres and deep greens, and {he} often painted outdoors in winter.",
        "Many of {his} canvases show the landscapes of {prov}, its rivers and its low hills.",
        "{He} kept detailed notebooks of colour mixtures, now an important source for historians.",
        "{His} early portraits were commissioned by merchant families of the region.",
    ),
    "writer": (
        "{His} prose is noted for its long sentences and its attention to village speech.",
        "{He} also wrote essays for newspapers and a short memoir of {his} schooldays.",
        "Translations of {his} books have appeared in several languages.",
        "{His} novels often return to the river towns of {prov}.",
    ),
    "engineer": (
        "{He} was an early advocate of reinforced concrete in {DEMONYM} civil engineering.",
        "{His} designs were admired for their economy of material and their slender profiles.",
        "{He} later taught structural engineering and wrote a textbook on arch bridges.",
    ),
    "architect": (
        "{His} buildings combine local stone with large steel-framed windows.",
        "{He} took a particular interest in public buildings and civic squares.",
        "Several of {his} buildings are now protected monuments.",
    ),
    "athlete": (
        "{He} was known for a strong finish and careful pacing in major races.",
        "After retiring from competition {he} coached young athletes in {prov}.",
        "{His} training diaries were later published by a sports magazine.",
        "{He} represented {REGION} at several international competitions.",
    ),
    "politician": (
        "{His} administration focused on housing, public transport and the repair of old bridges.",
        "Before entering politics {he} worked as a schoolteacher and a local journalist.",
        "{He} is a member of the town council's committee on culture and heritage.",
    ),
    "scientist": (
        "{His} research concerned the chemistry of mineral springs and the geology of {prov}.",
        "{He} published more than a hundred papers and supervised many doctoral students.",
        "{He} was elected a member of the {DEMONYM} Academy of Sciences.",
    ),
    "mountaineer": (
        "{He} climbed mostly without guides and kept careful records of {his} routes.",
        "{His} accounts of climbing expeditions were widely read in {REGION}.",
        "{He} helped to found a network of mountain huts in the high valleys.",
    ),
}
TOWN_FILL = (
    "The old town is known for its narrow streets, timber-framed houses and a covered market.",
    "Its economy has long rested on {trade} and, more recently, on tourism.",
    "A weekly market is held in the main square every {weekday}.",
    "The parish church, rebuilt after a fire in the eighteenth century, dominates the skyline.",
    "The surrounding countryside is given over to {crop} and pasture.",
    "A railway line reached the town in the late nineteenth century.",
    "Summers are warm and winters cold, with snow common from December to March.",
    "Local cooking is known for smoked fish, rye bread and plum brandy.",
)
TRADES = ("salt works", "glassmaking", "timber", "wine growing", "textiles", "brewing",
           "tanning", "stone quarrying", "paper milling", "boatbuilding")
CROPS = ("wheat", "barley", "orchards", "vineyards", "hops", "potatoes", "flax")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
WATER_FILL = (
    "Its waters are clear and cold, and it is popular with anglers for trout and grayling.",
    "The valley it drains is heavily wooded, with beech forest on the lower slopes.",
    "Spring floods were once common and several weirs were built to control them.",
    "Otters returned to its banks in the 1990s after a long absence.",
    "Small boats and canoes use it in summer; larger vessels cannot navigate it.",
)

JOBS = ("miller", "schoolteacher", "carpenter", "pharmacist", "railway clerk", "glassblower",
         "innkeeper", "bookbinder", "ferryman", "watchmaker", "tailor", "notary", "organist",
         "forester", "stonemason", "baker")
EARLY = (
    "{He} was the {nth} of {k} children of {a_job} and {a_job2}.",
    "{His} father was {a_job}, and {his} mother ran a small shop near the river.",
    "{He} grew up in modest circumstances; {his} parents were {a_job} and {a_job2}.",
    "As a child {he} sang in the parish choir and spent summers on an uncle's farm.",
    "{He} showed an early talent that a local {job} encouraged with lessons and books.",
    "The family moved several times during {his} childhood before settling in {prov}.",
    "{His} childhood was marked by the death of {his} mother when {he} was nine.",
)
LEGACY = (
    "A street in {town} bears {his} name.",
    "A plaque marks the house in {town} where {he} spent {his} early years.",
    "{His} papers are kept in the provincial archive of {prov}.",
    "A biography of {him} appeared in {year2}, renewing interest in {his} work.",
    "{His} reputation declined after {his} death but has recovered in recent decades.",
    "Exhibitions and conferences marked the centenary of {his} birth.",
    "Schoolchildren in {prov} still learn about {him} as part of local history lessons.",
)
LIVING = (
    "{He} lives with {his} family on the outskirts of {town}.",
    "{He} regularly gives talks at schools across {prov}.",
    "{He} has been interviewed many times on {DEMONYM} radio about {his} work.",
    "{He} serves on the board of a regional cultural foundation.",
    "In interviews {he} has spoken of the influence of the landscape of {prov}.",
)
TOWN_HISTORY = (
    "In the {c1} century the town received market rights and built a stone wall, parts of which survive.",
    "A great fire in {y1} destroyed much of the old centre, which was rebuilt in stone.",
    "During the {c2} century the town grew quickly as {trade} brought new workers from the countryside.",
    "The town suffered badly in the flood years of the {d1}s, after which the embankments were raised.",
    "A bridge over the river, first mentioned in {y1}, made the town an important crossing point.",
    "The railway station opened in {y2}, linking the town with the provincial capital.",
    "Much of the nineteenth-century town hall and guild houses survive around the central square.",
)
COMPOSITION = (
    "The work is in {k} movements and lasts about {m} minutes in performance.",
    "It is scored for {ens}, with a prominent part for the {instr}.",
    "The opening movement is built on a folk melody from the province of {prov}.",
    "The slow movement, marked Andante tranquillo, is often performed on its own.",
    "The finale combines a dance rhythm with a chorale-like theme in the brass.",
    "The manuscript score is dedicated to a friend of the composer.",
)
ENSEMBLES = ("full orchestra", "string orchestra", "chamber orchestra", "small orchestra with harp",
              "piano and strings", "wind ensemble")
INSTRUMENTS = ("clarinet", "cello", "oboe", "horn", "viola", "piano", "harp", "flute")
PAINTING = (
    "The canvas measures {a} by {b} centimetres.",
    "It shows a {scene} under a low, overcast sky.",
    "The painting was exhibited at the provincial salon the year after it was finished.",
    "Technical studies have found an earlier composition beneath the visible paint layer.",
    "The picture is noted for its muted palette and careful handling of light.",
)
SCENES = ("river landing", "winter market", "harvest field", "ferry crossing", "mill pond",
           "quiet street", "boatyard", "mountain pasture", "family at table")
NOVEL = (
    "The story follows {hero}, a young {job} who returns to {town} after many years away.",
    "It is told in the first person and spans three generations of one family.",
    "The book was a modest success on publication and has been reprinted several times.",
    "A stage adaptation was produced in {year2}.",
    "Critics praised its portrait of small-town life and its dry humour.",
)
BRIDGE = (
    "The bridge has {k} spans and a total length of {L} metres.",
    "It is built of {mat} and carries a road and two footpaths.",
    "It replaced an older wooden crossing that had been damaged by ice.",
    "The bridge was restored and strengthened in {year2}.",
)
MATERIALS = ("reinforced concrete", "steel", "dressed stone", "brick and stone", "steel and concrete")
BUILDING = (
    "The building is in a restrained {style} style, with a tall central hall.",
    "Its facade is faced with local {stone}.",
    "It was restored in {year2} and remains in public use.",
    "The interior retains much of its original woodwork and tiled floors.",
)
STYLES = ("neoclassical", "art nouveau", "modernist", "historicist", "functionalist")
STONES = ("limestone", "sandstone", "granite", "red brick")
INSTITUTION = (
    "It moved into its present building in {year2}.",
    "Today it has about {n} {members}.",
    "It receives funding from the province of {prov} and from private donors.",
    "Its archive holds letters, photographs and records dating back to its foundation.",
    "The {sub} celebrated its centenary with a series of public events.",
    "It runs an outreach programme for schools across the province.",
)
LAKE_FILL = (
    "The shores are lined with reed beds that shelter nesting grebes and herons.",
    "A passenger boat crosses the lake several times a day in summer.",
    "In cold winters the lake freezes over and is used for skating.",
    "Several villages on its shores depend on fishing and tourism.",
    "The water is clear enough for divers to see the old stone jetties on the bottom.",
)
MOUNTAIN_FILL = (
    "The mountain is built largely of limestone, with deep gullies on its northern face.",
    "Chamois and marmots are common on the upper slopes.",
    "It is a popular destination for ski touring in late winter.",
    "On clear days the view from the summit reaches across the whole province.",
)


FORM_DESC = {"variations": "set of orchestral variations", "quartet": "string quartet",
              "elegy": "elegy for strings", "concerto": "concerto for violin and orchestra",
              "cantata": "cantata for choir and orchestra", "sonata": "sonata for piano",
              "nocturne": "nocturne for small orchestra", "ballade": "ballade for piano",
              "fantasia": "fantasia for orchestra"}


BLOG_OPEN = (
    "Okay, so this one is long overdue.", "Finally writing up our trip!",
    "Quick post before I forget everything.", "Back home and still thinking about this place.",
    "Another weekend, another river town.",
)
BLOG_CLOSE = (
    "Anyway, go if you get the chance. Bring good boots.",
    "Next time I want to stay longer. Comments welcome!",
    "That's it from me. More photos on the next post.",
    "Would absolutely go back, maybe in autumn.",
)

WORK_BACKGROUND = {
    "composition": (
        "The work was written during a long stay in the countryside, away from the demands of "
        "teaching.",
        "The composer revised the score twice before allowing it to be published.",
        "Sketches for the piece survive in a notebook that also contains shopping lists and "
        "letters.",
        "It was one of the first works the composer wrote after returning from a period abroad.",
        "The piece grew out of incidental music written for a local theatre production.",
        "Its dedicatee was a childhood friend who had become a violinist in the capital.",
    ),
    "painting": (
        "The painter made several preparatory drawings on site before working on the canvas in "
        "the studio.",
        "It was painted in a single summer, according to the artist's letters.",
        "The work was bought by a private collector soon after it was finished.",
        "A smaller version of the same subject is known from an auction catalogue.",
        "The artist returned to the motif several times in later years.",
    ),
    "novel": (
        "The author drew on family stories and on letters kept by a grandmother.",
        "Early drafts were written in the evenings after work at a provincial newspaper.",
        "The manuscript was rejected by two publishers before it found a home.",
        "The title was chosen by the publisher; the author had preferred a longer one.",
        "Parts of the book first appeared as a serial in a weekly magazine.",
    ),
    "bridge": (
        "The crossing had been served by a ferry for centuries before the bridge was planned.",
        "A competition for the design attracted entries from across the region.",
        "Construction was delayed by a harsh winter and a shortage of steel.",
        "Load tests before the opening used a column of loaded lorries.",
    ),
    "building": (
        "The commission followed a public competition organised by the town council.",
        "Construction took several years and went well over its original budget.",
        "The design was controversial at first but soon became a local landmark.",
        "Local craftsmen carried out most of the stone carving and joinery.",
    ),
}
RECEPTION = (
    "Early reviews were cautious, but later writers have treated it as a key work.",
    "It remains one of the best-known works of its kind in the region.",
    "Scholars have noted its debt to older regional traditions.",
    "It is regularly discussed in surveys of the period.",
    "An exhibition and a series of lectures have brought it to a wider audience.",
    "Several writers have described it as a turning point in its creator's career.",
)
PERSONAL = (
    "{He} married twice and had {k} children.",
    "{He} was a keen gardener and an amateur astronomer.",
    "Friends described {him} as reserved in company but generous with {his} time.",
    "{He} spent most summers at a cottage by a lake in {prov}.",
    "{He} kept up a large correspondence with colleagues across the region.",
    "{He} spoke three languages and travelled widely as a young adult.",
)
TOWN_CULTURE = (
    "A folk festival with music and dancing is held in the old town each summer.",
    "The town museum displays local crafts, costumes and old river maps.",
    "Its football ground and swimming baths were built in the 1930s.",
    "The central library occupies a former grain store beside the river.",
    "A small theatre company performs in the old cloth hall.",
    "The town band, founded in the nineteenth century, plays in the square on Sundays.",
)
TOWN_TRANSPORT = (
    "Regional trains connect the town with the provincial capital several times a day.",
    "A bypass built in the 1980s took heavy traffic away from the old centre.",
    "Buses run to the surrounding villages, and a cycle path follows the river bank.",
    "The nearest airport is about an hour away by road.",
)
RIVER_HISTORY = (
    "In the Middle Ages timber was floated down the river to the towns of the lowlands.",
    "Water mills once stood every few kilometres along its course; a few survive as museums.",
    "A towpath along the lower river is now part of a long-distance walking route.",
    "Regulation works in the nineteenth century straightened several of its meanders.",
    "Its name is first recorded in a charter of the twelfth century.",
)
NEWS_CONTEXT = {
    "championship": (
        "Organisers said the course had been changed after complaints about safety last year.",
        "Local schools were given the afternoon off to watch the final.",
        "The win earns a place in the national team for the coming season.",
        "Spectators lined the route despite the cold.",
    ),
    "election": (
        "Turnout was {pct} per cent, higher than at the previous election.",
        "The outgoing mayor did not stand again after two terms.",
        "The new council meets for the first time next month.",
        "Opposition candidates congratulated the winner on election night.",
    ),
    "premiere": (
        "The hall was full, and tickets for a second performance sold out within a day.",
        "The orchestra's music director described the score as demanding but rewarding.",
        "A radio recording of the performance will be broadcast next week.",
        "The composer attended the rehearsals and made small changes to the finale.",
    ),
    "obituary": (
        "Colleagues remembered a generous teacher and a tireless worker.",
        "The town council flew its flag at half mast.",
        "A collection of letters and papers is to be given to the provincial archive.",
    ),
    "bridge": (
        "Traffic on the old crossing had been restricted for several years.",
        "Local businesses expect the new crossing to shorten journeys considerably.",
        "The project was funded jointly by the town and the province.",
    ),
}
BLOG_MIDDLE = (
    "We stayed in a guesthouse run by a very kind couple who fed us far too much.",
    "The weather was all over the place: sun in the morning, rain by lunch.",
    "If you go, get there early, because the car park fills up by ten.",
    "I took about four hundred photos, most of them of the same bridge.",
    "The locals we met were friendly and happy to give directions.",
    "Dinner was smoked fish with potatoes, which seems to be the local speciality.",
    "The walk along the river took longer than the signs claimed.",
)
