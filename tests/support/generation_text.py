"""Sentences written for this project's generator tests (tokenizer training text and inputs)."""

ENGLISH = [
    "Maria asks Tom to water the plants while she visits her sister in Lisbon.",
    "The two neighbours agree to share the cost of repairing the garden fence.",
    "Person1 wants a refund for the blue kettle because its lid does not close.",
    "Sam tells his manager that the quarterly report will be ready on Thursday.",
    "A student asks the librarian where to find old maps of the harbour.",
    "Ana and Luis plan a picnic by the lake if the rain stops before noon.",
    "The customer books a table for six people at eight in the evening.",
    "Person2 explains that the train to the airport leaves every twenty minutes.",
    "Grace reminds her brother to bring the charger for the camera.",
    "The doctor advises the patient to walk every morning and drink more water.",
    "They argue about which film to watch and finally choose a comedy.",
    "Oliver cannot find his keys and asks his flatmate to check the kitchen.",
    "The hotel clerk offers a quieter room on the fifth floor.",
    "Person1 suggests cooking soup tonight because the fridge is almost empty.",
    "Nina is nervous about her interview, so her friend helps her practise.",
    "The teacher moves the chemistry exam to the following Monday.",
    "Two colleagues decide to take the stairs since the lift is broken again.",
    "Ben orders a large coffee with oat milk and a slice of lemon cake.",
    "The landlord promises to fix the heating before the cold weather arrives.",
    "Person2 has lost the receipt but remembers paying with a card.",
    "Hello, how are you today?",
    "Thanks a lot, see you tomorrow.",
    "I would love to join you for dinner on Friday.",
    "Could you send me the slides after the meeting?",
    "That sounds great, let us meet at the station.",
]

SPANISH = [
    "María le pide a Tomás que riegue las plantas mientras visita a su hermana.",
    "Los dos vecinos acuerdan compartir el coste de reparar la valla del jardín.",
    "La persona uno quiere que le devuelvan el dinero de la tetera azul.",
    "Samuel le dice a su jefa que el informe estará listo el jueves.",
    "Una estudiante pregunta a la bibliotecaria dónde están los mapas antiguos.",
    "Ana y Luis planean un pícnic junto al lago si deja de llover.",
    "El cliente reserva una mesa para seis personas a las ocho.",
    "El tren al aeropuerto sale cada veinte minutos desde el andén dos.",
    "Gracia le recuerda a su hermano que traiga el cargador de la cámara.",
    "El médico aconseja caminar cada mañana y beber más agua.",
    "Discuten qué película ver y al final eligen una comedia.",
    "Óscar no encuentra sus llaves y pregunta a su compañero de piso.",
    "El recepcionista ofrece una habitación más tranquila en el quinto piso.",
    "Hola, ¿cómo estás hoy?",
    "Muchas gracias, nos vemos mañana.",
    "Me encantaría cenar contigo el viernes.",
]

# Short tone rewrites used to train the tiny tone adapter (input, professional rewrite).
TONE_PAIRS = [
    ("hey send me the file", "Could you please send me the file?"),
    ("the meeting is moved to monday", "Please note that the meeting has been moved to Monday."),
]
